"""The notification outbox: one row per message to deliver, written in the transaction that caused it.

The database, not the scheduler, is the source of truth: a delivery tick claims due rows under a
lease (``claimed_by``/``claimed_until``), sends them and records the outcome; a process that dies
mid-delivery leaves rows whose lease runs out and that another process takes over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONText, utcnow

# What producers enqueue (not a CHECK: a new kind must not need a migration).
KINDS = (
    "morning_brief",
    "appointment_reminder",
    "change_request",
    "cme_deadline",
    "document_expiry",
    "announcement",
    "announcement_progress",
    "doctor_unreachable",
    "test",
)
ROUTINE = "routine"
URGENT = "urgent"  # delivered during quiet hours too
URGENCIES = (ROUTINE, URGENT)

PENDING = "pending"  # waiting for next_attempt_at
SENDING = "sending"  # claimed by a worker until claimed_until
SENT = "sent"
FAILED = "failed"  # given up (permanent error or attempts exhausted)
CANCELLED = "cancelled"  # no longer to be sent (recipient blocked the bot, kind disabled, obsolete)
STATUSES = (PENDING, SENDING, SENT, FAILED, CANCELLED)
FINISHED = (SENT, FAILED, CANCELLED)

# The same text in the model and in migration 0004 (the partial indexes' predicate).
PENDING_ONLY = "status = 'pending'"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("urgency IN ('routine', 'urgent')", name="urgency"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="status"),
        # The claim: due pending rows. Partial, so it holds only the (small) backlog, not the history.
        Index(
            "ix_notifications_pending_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text(PENDING_ONLY),
            sqlite_where=text(PENDING_ONLY),
        ),
        # Lease recovery: rows in ``sending`` whose lease ran out.
        Index("ix_notifications_status_claimed_until", "status", "claimed_until"),
        # An announcement's progress (counts by status); also serves the ON DELETE SET NULL.
        Index("ix_notifications_announcement_id_status", "announcement_id", "status"),
        # Cancelling what is still queued for a chat that blocked the bot.
        Index(
            "ix_notifications_pending_chat_id",
            "chat_id",
            postgresql_where=text(PENDING_ONLY),
            sqlite_where=text(PENDING_ONLY),
        ),
    )

    # INTEGER on SQLite: only that spelling is the rowid alias (and autoincrements).
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # Indexed for the ON DELETE CASCADE (and a doctor's own list).
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(8), default=ROUTINE)
    # A message id and its parameters; the sender renders it in the recipient's language at send
    # time. Ids, dates and counts only — never patient names: the outbox is not encrypted.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    # Unique: enqueueing the same thing twice (a scan run again, a retried transaction) is a no-op.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # When the row may be claimed next: due_at at first, later retries and quiet-hours holds.
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]  # the lease
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(300))
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
