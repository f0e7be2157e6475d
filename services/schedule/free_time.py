"""A doctor's free slots, read from the database: the one search behind the day view's count,
rescheduling, the administrator's move offer and the doctor's counter-proposal."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.schedule.slots import Slot, free_slots
from storage.repositories.schedule import AppointmentRepository, ShiftRepository

# No slot is longer (shifts.slot_minutes ≤ 240): an appointment that began this long before the
# first shift cannot reach into it.
LONGEST_SLOT = timedelta(hours=4)


async def open_slots(
    session: AsyncSession,
    doctor_id: int,
    clinic_ids: Collection[int],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    exclude: int | None = None,
) -> list[Slot]:
    """Slots of the doctor's published shifts in these clinics that begin in [start, end), not
    before ``now``, and overlap none of the doctor's appointments in any clinic (a doctor is in one
    place at a time) — except ``exclude``, the appointment being moved. In time order."""
    shifts = await ShiftRepository(session).overlapping(
        start, end, doctor_id=doctor_id, clinic_ids=list(clinic_ids), published_only=True
    )
    if not shifts:
        return []
    appointments = await AppointmentRepository(session).in_period(
        min(s.starts_at for s in shifts) - LONGEST_SLOT,
        max(s.ends_at for s in shifts),
        doctor_id=doctor_id,
        active_only=True,
    )
    busy = [(a.starts_at, a.ends_at) for a in appointments if a.id != exclude]
    return [s for s in free_slots(shifts, busy, now) if start <= s.starts_at < end]
