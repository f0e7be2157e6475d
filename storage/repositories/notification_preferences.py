"""Doctors' notification preferences (no row: the defaults)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import time
from typing import Any, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import upsert_insert
from storage.models import KINDS, NotificationPreferences, utcnow
from storage.repositories.clinics import validate_timezone

MAX_REMINDER_LEAD_MINUTES = 24 * 60


class PreferenceFields(TypedDict, total=False):
    """What ``NotificationPreferencesRepository.update`` may change (any subset)."""

    disabled_kinds: Collection[str]
    quiet_start: time
    quiet_end: time
    quiet_enabled: bool
    silent_routine: bool
    brief_time: time | None
    reminder_lead_minutes: int
    remind_short_appointments: bool
    timezone: str


_FIELDS = frozenset(PreferenceFields.__annotations__)


def _local_time(name: str, value: Any, nullable: bool = False) -> time | None:
    if value is None and nullable:
        return None
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValueError(f"{name} must be a local time of day without a time zone")
    return value.replace(second=0, microsecond=0)  # minutes are the unit everywhere


def _validated(fields: PreferenceFields) -> dict[str, Any]:
    unknown = set(fields) - _FIELDS
    if unknown:
        raise TypeError(f"not notification preferences: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    given: dict[str, Any] = dict(fields)
    for name, value in given.items():
        if name == "disabled_kinds":
            if isinstance(value, str):
                raise TypeError("disabled_kinds is a collection of kinds, not one string")
            kinds = sorted(set(value))
            strange = [kind for kind in kinds if kind not in KINDS]
            if strange:
                raise ValueError(f"unknown notification kinds: {', '.join(strange)}")
            values[name] = kinds
        elif name in ("quiet_start", "quiet_end"):
            values[name] = _local_time(name, value)
        elif name == "brief_time":
            values[name] = _local_time(name, value, nullable=True)
        elif name in ("quiet_enabled", "silent_routine", "remind_short_appointments"):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool")
            values[name] = value
        elif name == "reminder_lead_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REMINDER_LEAD_MINUTES:
                raise ValueError(f"reminder_lead_minutes must be a whole number from 0 to {MAX_REMINDER_LEAD_MINUTES}")
            values[name] = value
        else:  # timezone
            # Checked here, not when scheduling: a bad zone would break every brief and quiet hour.
            values[name] = validate_timezone(value)
    return values


class NotificationPreferencesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, doctor_id: int) -> NotificationPreferences | None:
        """The saved preferences; None when the doctor never changed any."""
        return await self._session.get(NotificationPreferences, doctor_id)

    async def get_or_default(self, doctor_id: int) -> NotificationPreferences:
        """The saved preferences, or the defaults as an object that is not saved (nor in the session)."""
        saved = await self.get(doctor_id)
        return saved if saved is not None else NotificationPreferences.defaults(doctor_id)

    async def update(self, doctor_id: int, **fields: Unpack[PreferenceFields]) -> NotificationPreferences:
        """Set the given fields (the others keep their saved or default values), flushed.

        ValueError/TypeError (InvalidTimezone for a bad zone) before anything is written; a
        doctor that does not exist raises IntegrityError (the foreign key).
        """
        values = _validated(fields)
        values["updated_at"] = utcnow()
        defaults = NotificationPreferences.defaults(doctor_id)
        row = {column.key: getattr(defaults, column.key) for column in NotificationPreferences.__table__.columns}
        row.update(values)
        # An upsert: two first changes racing each other both land instead of one failing.
        insert = upsert_insert(self._session, NotificationPreferences).values(row)
        statement = insert.on_conflict_do_update(
            index_elements=[NotificationPreferences.doctor_id],
            set_={name: insert.excluded[name] for name in values},
        ).returning(NotificationPreferences)
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one()
