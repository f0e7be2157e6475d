"""A patient: personal data only as ciphertext, found through keyed hashes (blind indexes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_clinic_id_last_name_index", "clinic_id", "last_name_index"),
        Index("ix_patients_clinic_id_policy_index", "clinic_id", "policy_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    # storage.crypto.FieldCipher tokens, bound to their column: never plaintext.
    last_name: Mapped[str] = mapped_column(Text)
    first_name: Mapped[str] = mapped_column(Text)
    middle_name: Mapped[str | None] = mapped_column(Text)
    birth_date: Mapped[str | None] = mapped_column(Text)
    policy_number: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    # storage.crypto.BlindIndex digests (hex HMAC-SHA256): equality lookups without plaintext.
    last_name_index: Mapped[str] = mapped_column(String(64))
    policy_index: Mapped[str | None] = mapped_column(String(64))
    # SNILS is kept only as this hash: it is needed for matching, never for display.
    snils_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
