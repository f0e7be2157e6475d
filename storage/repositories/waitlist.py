"""The waitlist: patients waiting for an earlier slot, first come first offered."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WaitlistEntry
from storage.models.waitlist_entry import WAITING


class WaitlistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, doctor_id: int, clinic_id: int, patient_id: int) -> WaitlistEntry:
        entry = WaitlistEntry(doctor_id=doctor_id, clinic_id=clinic_id, patient_id=patient_id, status=WAITING)
        self._session.add(entry)
        await self._session.flush()
        return entry

    async def get(self, entry_id: int) -> WaitlistEntry | None:
        return await self._session.get(WaitlistEntry, entry_id)

    async def first_waiting(self, doctor_id: int, clinic_id: int) -> WaitlistEntry | None:
        statement = (
            select(WaitlistEntry)
            .where(
                WaitlistEntry.doctor_id == doctor_id,
                WaitlistEntry.clinic_id == clinic_id,
                WaitlistEntry.status == WAITING,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(1)
        )
        return (await self._session.scalars(statement)).first()

    async def waiting_count(self, doctor_id: int, clinic_id: int) -> int:
        statement = select(func.count()).where(
            WaitlistEntry.doctor_id == doctor_id,
            WaitlistEntry.clinic_id == clinic_id,
            WaitlistEntry.status == WAITING,
        )
        return int(await self._session.scalar(statement) or 0)

