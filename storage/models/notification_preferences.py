"""What a doctor wants to be notified about, and when (no row: the defaults)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONText, utcnow

DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(8, 0)
DEFAULT_REMINDER_LEAD_MINUTES = 30
DEFAULT_NOTIFICATION_TIMEZONE = "Europe/Moscow"
SHORT_APPOINTMENT_MINUTES = 20


class NotificationPreferences(Base):
    __tablename__ = "notification_preferences"

    doctor_id: Mapped[int] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # Kinds the doctor turned off (storage.models.notification.KINDS), sorted.
    disabled_kinds: Mapped[list[str]] = mapped_column(JSONText, default=list)
    # Local times in ``timezone``; the window may wrap midnight (21:00–08:00). Routine items due
    # inside it wait until it ends; urgent ones go through.
    quiet_start: Mapped[time] = mapped_column(default=DEFAULT_QUIET_START)
    quiet_end: Mapped[time] = mapped_column(default=DEFAULT_QUIET_END)
    quiet_enabled: Mapped[bool] = mapped_column(default=True)
    # Routine messages without sound (Telegram's disable_notification).
    silent_routine: Mapped[bool] = mapped_column(default=False)
    # None: 30 minutes before the first shift when the schedule is known, else 08:00 local.
    brief_time: Mapped[time | None]
    reminder_lead_minutes: Mapped[int] = mapped_column(default=DEFAULT_REMINDER_LEAD_MINUTES)
    # Appointments shorter than SHORT_APPOINTMENT_MINUTES get no reminder unless switched on.
    remind_short_appointments: Mapped[bool] = mapped_column(default=False, server_default=false())
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_NOTIFICATION_TIMEZONE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @classmethod
    def defaults(cls, doctor_id: int) -> NotificationPreferences:
        """The preferences of a doctor who never changed them (not added to any session).

        Column defaults apply only at INSERT; this fills them in at construction.
        """
        return cls(
            doctor_id=doctor_id,
            disabled_kinds=[],
            quiet_start=DEFAULT_QUIET_START,
            quiet_end=DEFAULT_QUIET_END,
            quiet_enabled=True,
            silent_routine=False,
            brief_time=None,
            reminder_lead_minutes=DEFAULT_REMINDER_LEAD_MINUTES,
            remind_short_appointments=False,
            timezone=DEFAULT_NOTIFICATION_TIMEZONE,
            updated_at=utcnow(),
        )
