"""Who scheduled reminders go to: linked, reachable doctors who accepted the consent.

One query joins what the scans need (chat, language, preferences, accreditation), so a scan over
a whole region is one round trip, not one per doctor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Consent, Doctor, NotificationPreferences, TelegramAccount
from storage.models.consent import PERSONAL_DATA
from storage.models.notification_preferences import DEFAULT_NOTIFICATION_TIMEZONE, DEFAULT_REMINDER_LEAD_MINUTES


@dataclass(frozen=True)
class Target:
    doctor_id: int
    chat_id: int
    locale: str
    timezone: str
    brief_time: time | None
    disabled_kinds: frozenset[str]
    accreditation_valid_until: date | None
    accreditation_specialty: str | None
    reminder_lead_minutes: int = DEFAULT_REMINDER_LEAD_MINUTES
    remind_short_appointments: bool = False


class ReminderTargetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active_doctors(self) -> Sequence[Target]:
        statement = (
            select(
                Doctor.id,
                TelegramAccount.chat_id,
                TelegramAccount.locale,
                NotificationPreferences.timezone,
                NotificationPreferences.brief_time,
                NotificationPreferences.disabled_kinds,
                Doctor.accreditation_valid_until,
                Doctor.accreditation_specialty,
                NotificationPreferences.reminder_lead_minutes,
                NotificationPreferences.remind_short_appointments,
            )
            .join(TelegramAccount, TelegramAccount.doctor_id == Doctor.id)
            .join(
                Consent,
                and_(Consent.doctor_id == Doctor.id, Consent.kind == PERSONAL_DATA, Consent.accepted_at.is_not(None)),
            )
            .outerjoin(NotificationPreferences, NotificationPreferences.doctor_id == Doctor.id)
            .where(TelegramAccount.unreachable_since.is_(None))
            .distinct()
            .order_by(Doctor.id)
        )
        rows = (await self._session.execute(statement)).all()
        return [
            Target(
                doctor_id=row[0],
                chat_id=row[1],
                locale=row[2],
                timezone=row[3] or DEFAULT_NOTIFICATION_TIMEZONE,
                brief_time=row[4],
                disabled_kinds=frozenset(row[5] or []),
                accreditation_valid_until=row[6],
                accreditation_specialty=row[7],
                # No saved preferences: the defaults (the outer join gives NULLs).
                reminder_lead_minutes=DEFAULT_REMINDER_LEAD_MINUTES if row[8] is None else row[8],
                remind_short_appointments=bool(row[9]),
            )
            for row in rows
        ]
