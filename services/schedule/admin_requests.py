"""A clinic administrator asks, from the chat, to move or cancel one of a doctor's appointments.

The administrator never sees a patient: a day of a doctor is a list of times, an appointment is
its time and status. The request itself is an ordinary change request (``ChangeRequestService``):
the doctor gets the usual message and decides, and the decision comes back to the
administrator's chat through the outbox (``change_request_result``). Every id that arrives from
a button is checked again here: a doctor or an appointment outside the administrator's clinics —
a forged button — is denied, audited and answered like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.audit import AuditService
from services.errors import N_, DomainError
from services.names import short_name
from services.schedule.access import ClinicInfo, ScheduleActor, ScheduleUseCase
from services.schedule.change_requests import ChangeRequestService
from services.schedule.free_time import open_slots
from services.schedule.service import local_day_bounds
from services.schedule.slots import Slot
from storage.models import Appointment
from storage.models.appointment import BOOKED
from storage.models.change_request import REASONS, REQUEST_CANCEL, REQUEST_MOVE
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.schedule import AppointmentRepository, clinic_doctors

# Why the administrator asks: codes only (they travel in the unencrypted outbox to the doctor);
# the texts are in handlers/admin_requests.py.
DAYS_AHEAD = 14
SLOT_LIMIT = 8


class NotInYourClinic(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This doctor or appointment is not in your clinic. Start again: /shifts"))


@dataclass(frozen=True)
class AdminDoctor:
    doctor_id: int
    name: str  # «Иванов С. А.»
    clinic: ClinicInfo


@dataclass(frozen=True)
class AdminAppointment:
    """All an administrator sees of an appointment: when, whose, and whether it is still booked."""

    id: int
    doctor_id: int
    clinic: ClinicInfo
    starts_at: datetime
    ends_at: datetime
    status: str


class AdminRequestService(ScheduleUseCase):
    async def _deny(self, actor: ScheduleActor, operation: str, kind: str, object_id: int) -> NotInYourClinic:
        await AuditService(self._uow).record(actor.actor, operation, kind, object_id, "denied")
        await self._uow.commit()
        return NotInYourClinic()

    async def doctors(self, telegram_user_id: int) -> list[AdminDoctor]:
        """The doctors of the administrator's clinics (a doctor in two of them appears twice)."""
        actor = await self._access.admin(telegram_user_id, "admin_request")
        result = []
        for clinic_id in sorted(actor.clinics):
            for doctor in await clinic_doctors(self._uow.session, clinic_id):
                name = short_name(doctor.last_name, doctor.first_name, doctor.middle_name)
                result.append(AdminDoctor(doctor.id, name, actor.clinics[clinic_id]))
        return result

    async def _doctor(self, telegram_user_id: int, clinic_id: int, doctor_id: int) -> tuple[ScheduleActor, AdminDoctor]:
        actor = await self._access.admin(telegram_user_id, "admin_request")
        if clinic_id in actor.clinics:
            for doctor in await clinic_doctors(self._uow.session, clinic_id):
                if doctor.id == doctor_id:
                    name = short_name(doctor.last_name, doctor.first_name, doctor.middle_name)
                    return actor, AdminDoctor(doctor.id, name, actor.clinics[clinic_id])
        raise await self._deny(actor, "admin_request", "doctor", doctor_id)

    async def doctor(self, telegram_user_id: int, clinic_id: int, doctor_id: int) -> AdminDoctor:
        return (await self._doctor(telegram_user_id, clinic_id, doctor_id))[1]

    async def day(self, telegram_user_id: int, clinic_id: int, doctor_id: int, day: date) -> list[AdminAppointment]:
        """The doctor's booked appointments on a local day of the clinic that have not started yet."""
        _actor, doctor = await self._doctor(telegram_user_id, clinic_id, doctor_id)
        start, end = local_day_bounds(day, doctor.clinic.timezone)
        now = self._clock()
        rows = await AppointmentRepository(self._uow.session).in_period(
            max(start, now), end, doctor_id=doctor_id, clinic_ids=[clinic_id], active_only=True
        )
        return [self._view(a, doctor.clinic) for a in rows if a.status == BOOKED and a.starts_at > now]

    @staticmethod
    def _view(appointment: Appointment, clinic: ClinicInfo) -> AdminAppointment:
        return AdminAppointment(
            appointment.id, appointment.doctor_id, clinic, appointment.starts_at, appointment.ends_at, appointment.status
        )

    async def _appointment(
        self, telegram_user_id: int, appointment_id: int, operation: str
    ) -> tuple[ScheduleActor, AdminAppointment]:
        actor = await self._access.admin(telegram_user_id, operation)
        appointment = await AppointmentRepository(self._uow.session).get(appointment_id)
        if appointment is None or appointment.clinic_id not in actor.clinics:
            raise await self._deny(actor, operation, "appointment", appointment_id)
        return actor, self._view(appointment, actor.clinics[appointment.clinic_id])

    async def appointment(self, telegram_user_id: int, appointment_id: int) -> AdminAppointment:
        return (await self._appointment(telegram_user_id, appointment_id, "admin_request"))[1]

    async def _free_slots(self, appointment: AdminAppointment) -> list[Slot]:
        now = self._clock()
        slots = await open_slots(
            self._uow.session, appointment.doctor_id, [appointment.clinic.id], now, now + timedelta(days=DAYS_AHEAD), now,
            exclude=appointment.id,
        )
        return [s for s in slots if s.starts_at != appointment.starts_at]

    async def move_slots(self, telegram_user_id: int, appointment_id: int) -> tuple[AdminAppointment, list[Slot]]:
        """The doctor's free slots in the appointment's clinic (next two weeks) to move it to."""
        _actor, appointment = await self._appointment(telegram_user_id, appointment_id, "admin_request")
        self._check_open(appointment)
        return appointment, (await self._free_slots(appointment))[:SLOT_LIMIT]

    def _check_open(self, appointment: AdminAppointment) -> None:
        if appointment.status != BOOKED or appointment.starts_at <= self._clock():
            raise DomainError(N_("This appointment can no longer be changed: it has started, ended or been cancelled."))

    async def file(
        self,
        telegram_user_id: int,
        chat_id: int,
        appointment_id: int,
        *,
        kind: str,
        reason: str,
        proposed_starts_at: datetime | None = None,
    ) -> int:
        """Send the doctor a change request; the decision is reported back to ``chat_id``."""
        if kind not in (REQUEST_MOVE, REQUEST_CANCEL) or reason not in REASONS:
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        actor, appointment = await self._appointment(telegram_user_id, appointment_id, "admin_request_file")
        self._check_open(appointment)
        if kind == REQUEST_MOVE:
            if proposed_starts_at is None or proposed_starts_at not in {s.starts_at for s in await self._free_slots(appointment)}:
                raise DomainError(N_("This time is taken or not free. Choose another one."))
        else:
            proposed_starts_at = None
        if await ChangeRequestRepository(self._uow.session).pending_for_appointment(appointment.id, self._clock()):
            raise DomainError(N_("The doctor has not yet answered an earlier request about this appointment."))
        # Same transaction as the request and the doctor's message (create commits).
        await AuditService(self._uow).record(
            actor.actor, "admin_request_file", "appointment", appointment.id, "ok", kind=kind, reason=reason
        )
        return await ChangeRequestService(self._uow, self._cipher, self._policy, self._clock).create(
            appointment.id,
            requested_by="admin",
            kind=kind,
            proposed_starts_at=proposed_starts_at,
            requester_chat_id=chat_id,
            reason=reason,
        )
