"""What the sender needs from a doctor's notification preferences, and quiet hours.

The sender reads preferences for every batch; a short-lived cache keeps that to one query per
doctor per ``ttl`` seconds (a changed preference applies within that time).
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.notification_preferences import DEFAULT_NOTIFICATION_TIMEZONE
from storage.repositories.notification_preferences import NotificationPreferencesRepository

logger = logging.getLogger(__name__)

_UTC = ZoneInfo("UTC")


class _PreferencesRow(Protocol):
    disabled_kinds: list[str]
    quiet_enabled: bool
    quiet_start: time
    quiet_end: time
    silent_routine: bool
    timezone: str


@dataclass(frozen=True)
class RecipientPreferences:
    disabled_kinds: frozenset[str] = frozenset()
    quiet_enabled: bool = False
    quiet_start: time = time(0)
    quiet_end: time = time(0)
    silent_routine: bool = False
    timezone: ZoneInfo = _UTC

    @classmethod
    def from_row(cls, row: _PreferencesRow) -> RecipientPreferences:
        return cls(
            disabled_kinds=frozenset(row.disabled_kinds or ()),
            quiet_enabled=bool(row.quiet_enabled),
            quiet_start=row.quiet_start,
            quiet_end=row.quiet_end,
            silent_routine=bool(row.silent_routine),
            timezone=_zone(row.timezone),
        )

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet period ``now`` falls in (aware UTC), or None outside quiet hours."""
        if not self.quiet_enabled:
            return None
        return quiet_period_end(now, self.quiet_start, self.quiet_end, self.timezone)


# Recipients that are not doctors (no preferences row can exist): nothing held back, nothing muted.
NO_PREFERENCES = RecipientPreferences()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A bad stored value must not stop delivery; the product default is the safest guess.
        logger.warning("unknown time zone %r in notification preferences; using %s", name, DEFAULT_NOTIFICATION_TIMEZONE)
        return ZoneInfo(DEFAULT_NOTIFICATION_TIMEZONE)


def quiet_period_end(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """When the local window [start, end) that contains ``now`` ends, in UTC; None if outside.

    The window may wrap midnight (21:00–08:00). An empty window (start == end) is never quiet.
    """
    if start == end:
        return None
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:
        inside = t >= start or t < end
        end_day = local.date() if t < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return _local_to_utc(end_day, end, zone)


def _local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    # A wall time skipped by a DST change resolves to the instant just after the gap (fold=0 rule).
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


class PreferencesCache:
    """Recipient preferences by doctor id, each kept for ``ttl`` seconds (0: never cached)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self._ttl = ttl
        self._entries: dict[int, tuple[RecipientPreferences, float]] = {}

    async def load(self, session: AsyncSession, doctor_ids: Iterable[int]) -> dict[int, RecipientPreferences]:
        found: dict[int, RecipientPreferences] = {}
        now = _time.monotonic()
        repo = NotificationPreferencesRepository(session)
        for doctor_id in set(doctor_ids):
            entry = self._entries.get(doctor_id)
            if entry is not None and now - entry[1] < self._ttl:
                found[doctor_id] = entry[0]
                continue
            prefs = RecipientPreferences.from_row(await repo.get_or_default(doctor_id))
            found[doctor_id] = prefs
            if self._ttl > 0:
                self._entries[doctor_id] = (prefs, now)
        if len(self._entries) > 50_000:
            self._entries = {k: v for k, v in self._entries.items() if now - v[1] < self._ttl}
        return found

    def forget(self, doctor_id: int | None = None) -> None:
        if doctor_id is None:
            self._entries.clear()
        else:
            self._entries.pop(doctor_id, None)
