"""Clinics."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Clinic
from storage.repositories._query import one_or_none


class InvalidTimezone(ValueError):
    """Not an IANA time zone name known to this system."""


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Moscow'") from None
    return name


class ClinicRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, name: str, short_name: str, timezone: str) -> Clinic:
        # Checked here, not when rendering: a bad zone would break every date shown to its doctors.
        clinic = Clinic(name=name, short_name=short_name, timezone=validate_timezone(timezone))
        self._session.add(clinic)
        await self._session.flush()
        return clinic

    async def get(self, clinic_id: int) -> Clinic | None:
        return await self._session.get(Clinic, clinic_id)

    async def list(self) -> Sequence[Clinic]:
        return (await self._session.scalars(select(Clinic).order_by(Clinic.name, Clinic.id))).all()

    async def by_name(self, name: str) -> Clinic | None:
        return await one_or_none(self._session, select(Clinic).where(Clinic.name == name))
