"""Doctors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import BlindIndex
from storage.models import Doctor, TelegramAccount
from storage.repositories._query import one_or_none

# Its own purpose, not the patients' one: a doctor's digest must not match their patient record.
DOCTOR_SNILS_PURPOSE = "doctors.snils"


def doctor_snils_hash(index: BlindIndex, snils: str) -> str:
    """The keyed hash stored in ``doctors.snils_hash`` (SNILS itself is never stored)."""
    return index.digest(DOCTOR_SNILS_PURPOSE, snils, number=True)


class DoctorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, doctor_id: int) -> Doctor | None:
        return await self._session.get(Doctor, doctor_id)

    async def get_by_oid(self, esia_oid: str) -> Doctor | None:
        return await one_or_none(self._session, select(Doctor).where(Doctor.esia_oid == esia_oid))

    async def get_by_snils_hash(self, snils_hash: str) -> Doctor | None:
        return await one_or_none(self._session, select(Doctor).where(Doctor.snils_hash == snils_hash))

    async def get_by_telegram_user(self, telegram_user_id: int) -> Doctor | None:
        """The doctor linked to this Telegram account, if any."""
        return await one_or_none(
            self._session,
            select(Doctor)
            .join(TelegramAccount, TelegramAccount.doctor_id == Doctor.id)
            .where(TelegramAccount.telegram_user_id == telegram_user_id),
        )

    async def add(
        self,
        *,
        last_name: str,
        first_name: str,
        middle_name: str | None = None,
        specialty: str | None = None,
        esia_oid: str | None = None,
        snils_hash: str | None = None,
    ) -> Doctor:
        """A new doctor, flushed (id assigned; a duplicate oid or SNILS raises IntegrityError here)."""
        doctor = Doctor(
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            specialty=specialty,
            esia_oid=esia_oid,
            snils_hash=snils_hash,
        )
        self._session.add(doctor)
        await self._session.flush()
        return doctor
