"""Appointments and their history.

No two active appointments of one doctor overlap: the database refuses it (PostgreSQL: an
exclusion constraint over ``tstzrange(starts_at, ends_at)``; SQLite: triggers), so two concurrent
bookings cannot both win, whatever the code above does. Cancelled ones free their time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

BOOKED = "booked"
ARRIVED = "arrived"
FULFILLED = "fulfilled"
NOSHOW = "noshow"
CANCELLED_APPOINTMENT = "cancelled"
APPOINTMENT_STATUSES = (BOOKED, ARRIVED, FULFILLED, NOSHOW, CANCELLED_APPOINTMENT)

# The name both databases report when an overlap is refused (constraint on PostgreSQL, trigger
# message on SQLite): repositories recognise it by this text.
OVERLAP_GUARD = "ex_appointments_no_overlap"

BIGINT_ID = BigInteger().with_variant(Integer, "sqlite")


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'arrived', 'fulfilled', 'noshow', 'cancelled')", name="status"
        ),
        CheckConstraint("ends_at > starts_at", name="period"),
        # The booking-conflict check and the day view: a doctor's appointments by start.
        Index("ix_appointments_doctor_id_starts_at", "doctor_id", "starts_at"),
        Index("ix_appointments_clinic_id_starts_at", "clinic_id", "starts_at"),
        Index("ix_appointments_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(BIGINT_ID, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=BOOKED)
    # FieldCipher tokens: the reason for the visit and a cancellation reason are medical data.
    reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: every change bumps it; a change made against an old version is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppointmentEvent(Base):
    """One change of an appointment: a status change or a move (with the time it moved from)."""

    __tablename__ = "appointment_events"

    id: Mapped[int] = mapped_column(BIGINT_ID, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(16))  # a status, or "rescheduled" / "undone"
    actor: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)  # the appointment's version after the change
    from_starts_at: Mapped[datetime | None]
    from_ends_at: Mapped[datetime | None]
    # A move also records the clinic and that clinic's patient record it left (a move to another of
    # the doctor's clinics changes both), so an undo can put them back. NULL: written before 0010.
    from_clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="SET NULL"))
    from_patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
