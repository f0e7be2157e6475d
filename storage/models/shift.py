"""A shift: a doctor's working period in one clinic, cut into slots of a fixed length.

Only published shifts make slots bookable; a draft is the doctor's (or the administrator's) plan.
Slots are derived, never stored: the shift, its breaks and the booked appointments say it all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONText, utcnow

SHIFT_DRAFT = "draft"
SHIFT_PUBLISHED = "published"
SHIFT_STATUSES = (SHIFT_DRAFT, SHIFT_PUBLISHED)


class Shift(Base):
    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published')", name="status"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
        CheckConstraint("ends_at > starts_at", name="period"),
        Index("ix_shifts_doctor_id_starts_at", "doctor_id", "starts_at"),
        Index("ix_shifts_clinic_id_starts_at", "clinic_id", "starts_at"),
        # The morning-brief scan: every doctor's shifts around now, in one range read.
        Index("ix_shifts_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    slot_minutes: Mapped[int] = mapped_column(Integer)
    # [[start, end], ...] as ISO UTC strings: no slot begins inside a break.
    breaks: Mapped[list[Any]] = mapped_column(JSONText, default=list)
    status: Mapped[str] = mapped_column(String(12), default=SHIFT_DRAFT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
