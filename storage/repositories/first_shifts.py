"""When each doctor's working day starts: the first published shift of the local day, per clinic
zone. The morning brief comes 30 minutes before it when the doctor has not chosen a time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Clinic, Shift
from storage.models.shift import SHIFT_PUBLISHED


async def first_shifts_today(session: AsyncSession, now: datetime) -> dict[int, tuple[date, datetime]]:
    """By doctor: (the local date, the start) of their earliest published shift that starts on the
    current local day of its clinic. One query for every doctor (a day either side covers any zone)."""
    statement = (
        select(Shift.doctor_id, Shift.starts_at, Clinic.timezone)
        .join(Clinic, Clinic.id == Shift.clinic_id)
        .where(
            Shift.status == SHIFT_PUBLISHED,
            Shift.starts_at >= now - timedelta(days=1),
            Shift.starts_at < now + timedelta(days=1),
        )
        .order_by(Shift.starts_at)
    )
    result: dict[int, tuple[date, datetime]] = {}
    for doctor_id, starts_at, timezone in (await session.execute(statement)).all():
        zone = ZoneInfo(timezone)
        local_day = starts_at.astimezone(zone).date()
        if doctor_id not in result and local_day == now.astimezone(zone).date():
            result[doctor_id] = (local_day, starts_at)
    return result
