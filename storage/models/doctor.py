"""A doctor, known by the ESIA identity once linked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Doctor(Base):
    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(primary_key=True)
    # ESIA's stable person id; empty until the doctor has signed in through Gosuslugi once.
    esia_oid: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_name: Mapped[str] = mapped_column(String(128))
    first_name: Mapped[str] = mapped_column(String(128))
    middle_name: Mapped[str | None] = mapped_column(String(128))
    specialty: Mapped[str | None] = mapped_column(String(255))
    # Keyed hash (storage.crypto.BlindIndex) of the SNILS: matches the ФРМР record, never stored in clear.
    snils_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
