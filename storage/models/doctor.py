"""A doctor, known by the ESIA identity once linked."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, false
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
    # The profile from the register of medical workers (ФРМР), refreshed at sign-in.
    register_id: Mapped[str | None] = mapped_column(String(64))
    accreditation_kind: Mapped[str | None] = mapped_column(String(64))
    accreditation_specialty: Mapped[str | None] = mapped_column(String(255))
    accreditation_number: Mapped[str | None] = mapped_column(String(64))
    accreditation_valid_until: Mapped[date | None] = mapped_column(Date)
    profile_refreshed_at: Mapped[datetime | None]
    # The ESIA account is confirmed (verified identity), not a simplified or standard one.
    esia_trusted: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
