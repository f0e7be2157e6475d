"""A doctor's local signing key (development signer): the private part only as ciphertext."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class SigningKey(Base):
    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), unique=True)
    # "gost2012-256;<paramset oid>;<hex x‖y little-endian>": what verification needs, public.
    public_key: Mapped[str] = mapped_column(String(200))
    # storage.crypto.FieldCipher token of the private scalar: it never leaves the server in clear.
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
