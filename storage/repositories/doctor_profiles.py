"""The doctor's profile from the register of medical workers (ФРМР): fields, positions, and removal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict, Unpack

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Announcement,
    ClinicRole,
    Consent,
    Doctor,
    DoctorCertificate,
    DoctorPosition,
    DoctorSecurity,
    EsiaToken,
    Notification,
    NotificationPreferences,
    Role,
    TelegramAccount,
)


class DoctorNotFound(LookupError):
    """No doctor with this id."""


@dataclass(frozen=True, slots=True)
class PositionData:
    """One position of the doctor, as the register lists it."""

    organization_oid: str
    organization_name: str
    position: str
    specialty: str | None = None
    role: Role = Role.DOCTOR
    start_date: date | None = None


class ProfileFields(TypedDict, total=False):
    """What ``update_profile`` may change (any subset)."""

    last_name: str
    first_name: str
    middle_name: str | None
    specialty: str | None
    register_id: str | None
    accreditation_kind: str | None
    accreditation_specialty: str | None
    accreditation_number: str | None
    accreditation_valid_until: date | None
    profile_refreshed_at: datetime | None
    esia_trusted: bool


_PROFILE_FIELDS = frozenset(ProfileFields.__annotations__)


class DoctorProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def update_profile(self, doctor_id: int, **fields: Unpack[ProfileFields]) -> Doctor:
        """Set the given fields (flushed); DoctorNotFound when there is no such doctor."""
        unknown = set(fields) - _PROFILE_FIELDS
        if unknown:
            raise TypeError(f"not profile fields: {', '.join(sorted(unknown))}")
        doctor = await self._session.get(Doctor, doctor_id)
        if doctor is None:
            raise DoctorNotFound(f"no doctor {doctor_id}")
        for name, value in fields.items():
            setattr(doctor, name, value)
        await self._session.flush()
        return doctor

    async def replace_positions(self, doctor_id: int, positions: Sequence[PositionData]) -> Sequence[DoctorPosition]:
        """The doctor's positions become exactly ``positions`` (in this order), flushed."""
        await self._session.execute(delete(DoctorPosition).where(DoctorPosition.doctor_id == doctor_id))
        rows = [
            DoctorPosition(
                doctor_id=doctor_id,
                organization_oid=p.organization_oid,
                organization_name=p.organization_name,
                position=p.position,
                specialty=p.specialty,
                role=p.role,
                start_date=p.start_date,
            )
            for p in positions
        ]
        self._session.add_all(rows)
        await self._session.flush()
        return rows

    async def positions(self, doctor_id: int) -> Sequence[DoctorPosition]:
        """In the order they were given to ``replace_positions``."""
        return (
            await self._session.scalars(
                select(DoctorPosition).where(DoctorPosition.doctor_id == doctor_id).order_by(DoctorPosition.id)
            )
        ).all()

    async def delete_doctor(self, doctor_id: int) -> bool:
        """Remove the doctor and everything stored about them: positions, consents, PIN and session
        state, ESIA token, clinic roles, notification preferences and queued or past notifications;
        the Telegram account stays but is unlinked; announcements they wrote stay, without an
        author. Audit events stay (they name the doctor by id only). True when there was such a doctor.

        Each dependent table is cleared explicitly rather than left to ON DELETE CASCADE, so the
        result does not depend on a connection having foreign keys enforced.
        """
        for model in (
            DoctorPosition,
            DoctorCertificate,
            Consent,
            DoctorSecurity,
            EsiaToken,
            ClinicRole,
            NotificationPreferences,
            Notification,
        ):
            await self._session.execute(delete(model).where(model.doctor_id == doctor_id))
        await self._session.execute(
            update(Announcement).where(Announcement.author_doctor_id == doctor_id).values(author_doctor_id=None)
        )
        await self._session.execute(
            update(TelegramAccount).where(TelegramAccount.doctor_id == doctor_id).values(doctor_id=None, linked_at=None)
        )
        deleted = await self._session.scalars(delete(Doctor).where(Doctor.id == doctor_id).returning(Doctor.id))
        return deleted.first() is not None
