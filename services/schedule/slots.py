"""Slots derived from shifts: pure functions, no storage.

A slot is one ``slot_minutes`` step of a published shift that starts at the shift's start plus a
whole number of steps, fits before the shift's end and does not touch a break.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.models import Shift


@dataclass(frozen=True, order=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    clinic_id: int
    shift_id: int


def shift_breaks(shift: Shift) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in shift.breaks or []]


def _overlaps(start: datetime, end: datetime, periods: Iterable[tuple[datetime, datetime]]) -> bool:
    return any(start < other_end and end > other_start for other_start, other_end in periods)


def shift_slots(shift: Shift) -> list[Slot]:
    step = timedelta(minutes=shift.slot_minutes)
    breaks = shift_breaks(shift)
    slots = []
    start = shift.starts_at
    while start + step <= shift.ends_at:
        if not _overlaps(start, start + step, breaks):
            slots.append(Slot(start, start + step, shift.clinic_id, shift.id))
        start += step
    return slots


def free_slots(
    shifts: Sequence[Shift], busy: Sequence[tuple[datetime, datetime]], now: datetime
) -> list[Slot]:
    """Slots of ``shifts`` that start after ``now`` and overlap nothing in ``busy``, by time."""
    ordered = sorted(busy)
    result = []
    for shift in shifts:
        for slot in shift_slots(shift):
            if slot.starts_at >= now and not _overlaps(slot.starts_at, slot.ends_at, ordered):
                result.append(slot)
    return sorted(result)


def slot_at(shifts: Sequence[Shift], starts_at: datetime) -> Slot | None:
    """The slot of ``shifts`` that starts exactly at ``starts_at``, if any."""
    for shift in shifts:
        if shift.starts_at <= starts_at < shift.ends_at:
            for slot in shift_slots(shift):
                if slot.starts_at == starts_at:
                    return slot
    return None
