"""A request, from the registry, a patient (through the clinic system) or an administrator, to
move or cancel one of a doctor's appointments; the doctor decides with a button."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

REQUEST_PENDING = "pending"
REQUEST_CONFIRMED = "confirmed"
REQUEST_DECLINED = "declined"
REQUEST_COUNTERED = "countered"  # the doctor proposed another time
REQUEST_EXPIRED = "expired"
REQUEST_STATUSES = (REQUEST_PENDING, REQUEST_CONFIRMED, REQUEST_DECLINED, REQUEST_COUNTERED, REQUEST_EXPIRED)
REQUEST_MOVE = "move"
REQUEST_CANCEL = "cancel"
# Why a change is asked for: codes only (the reason travels to the doctor in the unencrypted outbox).
REASONS = ("doctor_absent", "patient_asked", "clinic_change", "other")


class ChangeRequest(Base):
    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('move', 'cancel')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'confirmed', 'declined', 'countered', 'expired')", name="status"
        ),
        Index("ix_change_requests_doctor_id_status", "doctor_id", "status"),
        # The reminder scan: pending requests by age, whoever the doctor.
        Index("ix_change_requests_status_created_at", "status", "created_at"),
        # One request per Task of the clinic system, however often the Task is read.
        Index("ux_change_requests_external_id", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    requested_by: Mapped[str] = mapped_column(String(16))  # registry / patient / admin
    # Where the decision is reported back (an administrator's chat); None: the clinic system polls.
    requester_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    # Why (a code such as "doctor_absent", shown to the doctor translated); None: not given.
    reason: Mapped[str | None] = mapped_column(String(16))
    proposed_starts_at: Mapped[datetime | None]
    proposed_ends_at: Mapped[datetime | None]
    # The appointment's version when asked: a request about an appointment that changed since is stale.
    appointment_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=REQUEST_PENDING)
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The clinic system's Task this request came from (None: asked in the chat or by a service
    # call); the decision is written back to it, and ``external_reported_at`` says when.
    external_id: Mapped[str | None] = mapped_column(String(64))
    external_reported_at: Mapped[datetime | None]
    # The time the doctor proposed instead (status countered).
    countered_starts_at: Mapped[datetime | None]
    countered_ends_at: Mapped[datetime | None]
