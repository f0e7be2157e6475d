"""A doctor's PIN (as a slow salted hash made by the service), failed attempts, lock and idle anchor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class DoctorSecurity(Base):
    __tablename__ = "doctor_security"

    doctor_id: Mapped[int] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # The whole hash string (algorithm, parameters, salt, digest); storage never sees a PIN.
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    pin_set_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    # The last time the doctor proved presence (PIN entered, or activity): the idle timeout runs from here.
    last_verified_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
