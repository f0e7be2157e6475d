"""Clinics."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
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


class InvalidOrganizationOid(ValueError):
    """Not an OID (dot-separated numbers, as the register writes them)."""


_OID = re.compile(r"[0-9]+(\.[0-9]+)+")


def validate_organization_oid(oid: str) -> str:
    if len(oid) > 64 or not _OID.fullmatch(oid):
        raise InvalidOrganizationOid(f"not an organisation OID: {oid!r} (e.g. '1.2.643.5.1.13.13.12.2.77.7701')")
    return oid


class ClinicRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, name: str, short_name: str, timezone: str, organization_oid: str | None = None) -> Clinic:
        # Checked here, not when rendering: a bad zone would break every date shown to its doctors.
        clinic = Clinic(
            name=name,
            short_name=short_name,
            timezone=validate_timezone(timezone),
            organization_oid=None if organization_oid is None else validate_organization_oid(organization_oid),
        )
        self._session.add(clinic)
        await self._session.flush()
        return clinic

    async def get(self, clinic_id: int) -> Clinic | None:
        return await self._session.get(Clinic, clinic_id)

    async def list(self) -> Sequence[Clinic]:
        return (await self._session.scalars(select(Clinic).order_by(Clinic.name, Clinic.id))).all()

    async def by_name(self, name: str) -> Clinic | None:
        return await one_or_none(self._session, select(Clinic).where(Clinic.name == name))

    async def by_organization_oid(self, oid: str) -> Clinic | None:
        """The clinic that is this organisation of the register, if it is one of ours."""
        return await one_or_none(self._session, select(Clinic).where(Clinic.organization_oid == oid))

    async def by_organization_oids(self, oids: Collection[str]) -> Sequence[Clinic]:
        """The clinics among ``oids`` (unknown OIDs are skipped), by id."""
        if not oids:
            return []
        return (
            await self._session.scalars(
                select(Clinic).where(Clinic.organization_oid.in_(set(oids))).order_by(Clinic.id)
            )
        ).all()

    async def by_ids(self, clinic_ids: Collection[int]) -> Sequence[Clinic]:
        if not clinic_ids:
            return []
        return (
            await self._session.scalars(select(Clinic).where(Clinic.id.in_(set(clinic_ids))).order_by(Clinic.id))
        ).all()

    async def set_organization_oid(self, clinic_id: int, oid: str | None) -> Clinic | None:
        """Give the clinic its register OID (or take it away), flushed; None when there is no such clinic."""
        clinic = await self._session.get(Clinic, clinic_id)
        if clinic is None:
            return None
        clinic.organization_oid = None if oid is None else validate_organization_oid(oid)
        await self._session.flush()
        return clinic
