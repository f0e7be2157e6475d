"""A doctor's notification settings: which kinds, quiet hours, silent delivery, the brief's time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Unpack

from services.errors import N_, DomainError
from services.identity.access import AccessService
from services.uow import UnitOfWork
from storage.repositories.notification_preferences import NotificationPreferencesRepository, PreferenceFields

# Kinds a doctor can switch off, in the order the settings screen lists them. Urgent messages
# (a same-day schedule change, a critical lab result) are never switched off here.
CONFIGURABLE_KINDS = ("morning_brief", "appointment_reminder", "change_request", "cme_deadline", "document_expiry", "announcement")
QUIET_PRESETS: dict[str, tuple[time, time] | None] = {
    "off": None,
    "21-08": (time(21, 0), time(8, 0)),
    "22-07": (time(22, 0), time(7, 0)),
    "23-08": (time(23, 0), time(8, 0)),
}
BRIEF_PRESETS = ("auto", "07:00", "07:30", "08:00", "08:30", "09:00")
LEAD_PRESETS = (15, 30, 60, 120)  # minutes before an appointment


@dataclass(frozen=True)
class NotificationSettings:
    disabled_kinds: frozenset[str]
    quiet_enabled: bool
    quiet_start: time
    quiet_end: time
    silent_routine: bool
    brief_time: time | None
    timezone: str
    reminder_lead_minutes: int
    remind_short_appointments: bool = False

    @property
    def quiet_preset(self) -> str:
        if not self.quiet_enabled:
            return "off"
        for key, value in QUIET_PRESETS.items():
            if value == (self.quiet_start, self.quiet_end):
                return key
        return "custom"


class NotificationSettingsService:
    def __init__(self, uow: UnitOfWork, access: AccessService) -> None:
        self._uow = uow
        self._access = access

    async def _doctor(self, telegram_user_id: int) -> int:
        return (await self._access.require_consented(telegram_user_id)).doctor_id

    async def get(self, telegram_user_id: int) -> NotificationSettings:
        doctor_id = await self._doctor(telegram_user_id)
        prefs = await NotificationPreferencesRepository(self._uow.session).get_or_default(doctor_id)
        return NotificationSettings(
            disabled_kinds=frozenset(prefs.disabled_kinds or []),
            quiet_enabled=prefs.quiet_enabled,
            quiet_start=prefs.quiet_start,
            quiet_end=prefs.quiet_end,
            silent_routine=prefs.silent_routine,
            brief_time=prefs.brief_time,
            timezone=prefs.timezone,
            reminder_lead_minutes=prefs.reminder_lead_minutes,
            remind_short_appointments=prefs.remind_short_appointments,
        )

    async def toggle_kind(self, telegram_user_id: int, kind: str) -> NotificationSettings:
        if kind not in CONFIGURABLE_KINDS:
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        current = await self.get(telegram_user_id)
        disabled = set(current.disabled_kinds) ^ {kind}
        return await self._update(telegram_user_id, disabled_kinds=sorted(disabled))

    async def set_quiet(self, telegram_user_id: int, preset: str) -> NotificationSettings:
        if preset not in QUIET_PRESETS:
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        value = QUIET_PRESETS[preset]
        if value is None:
            return await self._update(telegram_user_id, quiet_enabled=False)
        return await self._update(telegram_user_id, quiet_enabled=True, quiet_start=value[0], quiet_end=value[1])

    async def toggle_silent(self, telegram_user_id: int) -> NotificationSettings:
        current = await self.get(telegram_user_id)
        return await self._update(telegram_user_id, silent_routine=not current.silent_routine)

    async def toggle_short_reminders(self, telegram_user_id: int) -> NotificationSettings:
        """Reminders of appointments shorter than 20 minutes: off by default."""
        current = await self.get(telegram_user_id)
        return await self._update(telegram_user_id, remind_short_appointments=not current.remind_short_appointments)

    async def set_brief_time(self, telegram_user_id: int, preset: str) -> NotificationSettings:
        if preset not in BRIEF_PRESETS:
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        value = None if preset == "auto" else time.fromisoformat(preset)
        return await self._update(telegram_user_id, brief_time=value)

    async def set_reminder_lead(self, telegram_user_id: int, minutes: str) -> NotificationSettings:
        if not minutes.isdigit() or int(minutes) not in LEAD_PRESETS:
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        return await self._update(telegram_user_id, reminder_lead_minutes=int(minutes))

    async def _update(self, telegram_user_id: int, **fields: Unpack[PreferenceFields]) -> NotificationSettings:
        doctor_id = await self._doctor(telegram_user_id)
        await NotificationPreferencesRepository(self._uow.session).update(doctor_id, **fields)
        await self._uow.commit()
        return await self.get(telegram_user_id)
