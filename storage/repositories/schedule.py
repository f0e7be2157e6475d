"""Shifts and appointments: the schedule's storage.

The database refuses overlapping appointments (see ``storage.models.appointment``); a refused
write surfaces here as ``SlotTaken``, whichever database said no. Changes to an appointment are
made against the version the caller saw (optimistic locking): a changed row answers ``False``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Appointment,
    AppointmentEvent,
    Clinic,
    ClinicRole,
    Consent,
    Doctor,
    Patient,
    Shift,
    TelegramAccount,
    utcnow,
)
from storage.models.appointment import BOOKED, CANCELLED_APPOINTMENT, OVERLAP_GUARD
from storage.models.clinic_role import Role
from storage.models.shift import SHIFT_PUBLISHED


class SlotTaken(Exception):
    """The database refused an appointment overlapping another of the same doctor."""


def _is_overlap(exc: IntegrityError) -> bool:
    return OVERLAP_GUARD in str(exc.orig)


_ACTIVE = Appointment.status != CANCELLED_APPOINTMENT


# No appointment is longer than this (a slot is at most 240 minutes): the lower bound on
# ``starts_at`` keeps the conflict check's index range to one day, not the doctor's whole history.
LONGEST_APPOINTMENT = timedelta(days=1)


def conflict_query(
    doctor_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None
) -> Select[tuple[bool]]:
    condition = (
        (Appointment.doctor_id == doctor_id)
        & (Appointment.starts_at > starts_at - LONGEST_APPOINTMENT)
        & (Appointment.starts_at < ends_at)
        & (Appointment.ends_at > starts_at)
        & _ACTIVE
    )
    if exclude_id is not None:
        condition = condition & (Appointment.id != exclude_id)
    return select(exists().where(condition))


class ShiftRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        doctor_id: int,
        clinic_id: int,
        starts_at: datetime,
        ends_at: datetime,
        slot_minutes: int,
        breaks: Sequence[tuple[datetime, datetime]] = (),
        status: str = SHIFT_PUBLISHED,
    ) -> Shift:
        shift = Shift(
            doctor_id=doctor_id,
            clinic_id=clinic_id,
            starts_at=starts_at,
            ends_at=ends_at,
            slot_minutes=slot_minutes,
            breaks=[[start.isoformat(), end.isoformat()] for start, end in breaks],
            status=status,
        )
        self._session.add(shift)
        await self._session.flush()
        return shift

    async def get(self, shift_id: int) -> Shift | None:
        return await self._session.get(Shift, shift_id)

    async def overlapping(
        self,
        start: datetime,
        end: datetime,
        *,
        doctor_id: int | None = None,
        clinic_ids: Collection[int] | None = None,
        published_only: bool = False,
    ) -> Sequence[Shift]:
        """Shifts that overlap [start, end), of one doctor and/or of some clinics, by start."""
        statement = select(Shift).where(Shift.starts_at < end, Shift.ends_at > start)
        if doctor_id is not None:
            statement = statement.where(Shift.doctor_id == doctor_id)
        if clinic_ids is not None:
            statement = statement.where(Shift.clinic_id.in_(set(clinic_ids)))
        if published_only:
            statement = statement.where(Shift.status == SHIFT_PUBLISHED)
        return (await self._session.scalars(statement.order_by(Shift.starts_at, Shift.id))).all()

    async def update(self, shift: Shift, **values: Any) -> Shift:
        for name, value in values.items():
            setattr(shift, name, value)
        shift.updated_at = utcnow()
        await self._session.flush()
        return shift

    async def delete(self, shift: Shift) -> None:
        await self._session.delete(shift)
        await self._session.flush()


class AppointmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        doctor_id: int,
        clinic_id: int,
        patient_id: int,
        starts_at: datetime,
        ends_at: datetime,
        *,
        reason: str | None = None,
        actor: str,
    ) -> Appointment:
        """A booked appointment (flushed, with its first history row); ``SlotTaken`` on an overlap.
        After ``SlotTaken`` the transaction is spoiled: the caller rolls back."""
        appointment = Appointment(
            doctor_id=doctor_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            version=1,
        )
        self._session.add(appointment)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            if _is_overlap(exc):
                raise SlotTaken() from exc
            raise
        await self.add_event(appointment.id, appointment.status, actor, 1)
        return appointment

    async def get(self, appointment_id: int) -> Appointment | None:
        return await self._session.get(Appointment, appointment_id, populate_existing=True)

    async def has_conflict(
        self, doctor_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None
    ) -> bool:
        """Is the doctor busy in [starts_at, ends_at)? One query on the (doctor_id, starts_at) index."""
        return bool(await self._session.scalar(conflict_query(doctor_id, starts_at, ends_at, exclude_id)))

    async def in_period(
        self,
        start: datetime,
        end: datetime,
        *,
        doctor_id: int | None = None,
        clinic_ids: Collection[int] | None = None,
        active_only: bool = False,
    ) -> Sequence[Appointment]:
        statement = select(Appointment).where(Appointment.starts_at >= start, Appointment.starts_at < end)
        if doctor_id is not None:
            statement = statement.where(Appointment.doctor_id == doctor_id)
        if clinic_ids is not None:
            statement = statement.where(Appointment.clinic_id.in_(set(clinic_ids)))
        if active_only:
            statement = statement.where(_ACTIVE)
        return (await self._session.scalars(statement.order_by(Appointment.starts_at, Appointment.id))).all()

    async def booked_starting(
        self, start: datetime, end: datetime, *, doctor_ids: Collection[int]
    ) -> list[tuple[Appointment, Clinic]]:
        """Booked appointments of these doctors starting in [start, end), with their clinics, by time."""
        if not doctor_ids:
            return []
        statement = (
            select(Appointment, Clinic)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .where(
                Appointment.doctor_id.in_(doctor_ids),
                Appointment.status == BOOKED,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
        return [(a, c) for a, c in (await self._session.execute(statement)).all()]

    async def count_active(self, doctor_id: int, start: datetime, end: datetime) -> int:
        statement = select(func.count()).where(
            Appointment.doctor_id == doctor_id, _ACTIVE, Appointment.starts_at >= start, Appointment.starts_at < end
        )
        return int(await self._session.scalar(statement) or 0)

    async def change(self, appointment_id: int, version: int, *, actor: str, event: str, **values: Any) -> bool:
        """Apply ``values`` if the appointment is still at ``version`` (then version + 1) and record
        the event; False when someone changed it first. ``SlotTaken`` when a move would overlap."""
        current = await self.get(appointment_id)
        if current is None or current.version != version:
            return False
        from_start, from_end = current.starts_at, current.ends_at
        from_clinic, from_patient = current.clinic_id, current.patient_id
        statement = (
            update(Appointment)
            # The doctor too (the same row): read caches then learn whose schedule changed
            # (storage.changes), instead of every doctor's.
            .where(Appointment.id == appointment_id, Appointment.doctor_id == current.doctor_id, Appointment.version == version)
            .values(**values, version=version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        try:
            result = await self._session.execute(statement)
        except IntegrityError as exc:
            if _is_overlap(exc):
                raise SlotTaken() from exc
            raise
        if getattr(result, "rowcount", 0) != 1:
            return False
        moved = "starts_at" in values
        await self.add_event(
            appointment_id,
            event,
            actor,
            version + 1,
            from_starts_at=from_start if moved else None,
            from_ends_at=from_end if moved else None,
            # Where it was: a move to another clinic changes the clinic and the patient's record.
            from_clinic_id=from_clinic if moved else None,
            from_patient_id=from_patient if moved else None,
        )
        return True

    async def add_event(
        self,
        appointment_id: int,
        event: str,
        actor: str,
        version: int,
        *,
        from_starts_at: datetime | None = None,
        from_ends_at: datetime | None = None,
        from_clinic_id: int | None = None,
        from_patient_id: int | None = None,
    ) -> None:
        self._session.add(
            AppointmentEvent(
                appointment_id=appointment_id,
                event=event,
                actor=actor,
                version=version,
                from_starts_at=from_starts_at,
                from_ends_at=from_ends_at,
                from_clinic_id=from_clinic_id,
                from_patient_id=from_patient_id,
                at=utcnow(),
            )
        )
        await self._session.flush()

    async def events(self, appointment_id: int) -> Sequence[AppointmentEvent]:
        return (
            await self._session.scalars(
                select(AppointmentEvent)
                .where(AppointmentEvent.appointment_id == appointment_id)
                .order_by(AppointmentEvent.id)
            )
        ).all()


async def patients_by_ids(session: AsyncSession, patient_ids: Collection[int]) -> Sequence[Patient]:
    """The (encrypted) patient rows of a day's appointments in one query; decrypt with
    ``PatientRepository.decrypt``."""
    if not patient_ids:
        return []
    return (await session.scalars(select(Patient).where(Patient.id.in_(set(patient_ids))))).all()


async def patient_ids_of_clinic(session: AsyncSession, clinic_id: int) -> list[int]:
    """Ids only (for seeding the demo schedule): nothing to decrypt."""
    statement = select(Patient.id).where(Patient.clinic_id == clinic_id).order_by(Patient.id)
    return list((await session.scalars(statement)).all())


async def clinic_doctors(session: AsyncSession, clinic_id: int) -> Sequence[Doctor]:
    """The doctors with the doctor role in a clinic, by surname (whom an administrator plans shifts for)."""
    statement = (
        select(Doctor)
        .join(ClinicRole, ClinicRole.doctor_id == Doctor.id)
        .where(ClinicRole.clinic_id == clinic_id, ClinicRole.role == Role.DOCTOR)
        .order_by(Doctor.last_name, Doctor.first_name, Doctor.id)
    )
    return (await session.scalars(statement)).all()


async def account_clinics(
    session: AsyncSession, telegram_user_id: int, role: Role, consent_kind: str, consent_version: str
) -> tuple[int | None, bool, list[Clinic]]:
    """In one query, what every schedule screen checks first: the linked doctor (None if the account
    is not linked), whether this consent version is accepted, and the clinics where the doctor holds
    ``role`` (by id). The same conditions as ``ConsentRepository.has_accepted`` and
    ``ClinicRoleRepository.roles_of``, joined, because this runs on every press."""
    consented = exists().where(
        Consent.doctor_id == TelegramAccount.doctor_id,
        Consent.kind == consent_kind,
        Consent.version == consent_version,
        Consent.accepted_at.is_not(None),
    )
    statement = (
        select(TelegramAccount.doctor_id, consented.label("consented"), Clinic)
        .select_from(TelegramAccount)
        .outerjoin(ClinicRole, and_(ClinicRole.doctor_id == TelegramAccount.doctor_id, ClinicRole.role == role))
        .outerjoin(Clinic, Clinic.id == ClinicRole.clinic_id)
        .where(TelegramAccount.telegram_user_id == telegram_user_id)
    )
    rows = (await session.execute(statement)).all()
    if not rows or rows[0][0] is None:
        return None, False, []
    clinics = sorted((row[2] for row in rows if row[2] is not None), key=lambda clinic: clinic.id)
    return rows[0][0], bool(rows[0][1]), clinics
