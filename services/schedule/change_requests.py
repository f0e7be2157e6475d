"""Change requests: the registry, a patient (through the clinic system) or an administrator asks
to move or cancel an appointment; the doctor confirms, declines or proposes another time.

The request and its notification are written in one transaction; a decision is taken once (a
second press, or a press after the request expired or the appointment changed, is answered so)
and reported back to whoever asked, through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.audit import AuditService
from services.errors import N_, DomainError
from services.schedule.access import ScheduleUseCase
from services.schedule.free_time import open_slots
from services.schedule.slots import Slot, slot_at
from storage.models import URGENT, ChangeRequest, Clinic
from storage.models.appointment import BOOKED, CANCELLED_APPOINTMENT
from storage.models.change_request import (
    REASONS,
    REQUEST_CANCEL,
    REQUEST_CONFIRMED,
    REQUEST_COUNTERED,
    REQUEST_DECLINED,
    REQUEST_EXPIRED,
    REQUEST_MOVE,
    REQUEST_PENDING,
)
from storage.models.notification import ROUTINE
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.schedule import AppointmentRepository, ShiftRepository, SlotTaken
from storage.repositories.telegram_accounts import TelegramAccountRepository

DEFAULT_TTL = timedelta(hours=24)
SLOT_SEARCH_DAYS = 14
REQUESTERS = ("registry", "patient", "admin")
CHANGE_REQUEST = "change_request"
CHANGE_REQUEST_RESULT = "change_request_result"


def is_same_day(request: ChangeRequest, starts_at: datetime, timezone: str, now: datetime) -> bool:
    """Whether the request concerns today in the clinic (the appointment's day or the proposed one)."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    proposed = request.proposed_starts_at
    return starts_at.astimezone(zone).date() == today or (proposed is not None and proposed.astimezone(zone).date() == today)


def request_payload(request: ChangeRequest, starts_at: datetime, clinic: Clinic, locale: str) -> dict[str, Any]:
    """The doctor's message: ids, times and codes only (the outbox is not encrypted: no patient data)."""
    proposed = request.proposed_starts_at
    return {
        "request_id": request.id,
        "kind": request.kind,
        "requested_by": request.requested_by,
        "starts_at": starts_at.isoformat(),
        "proposed_starts_at": proposed.isoformat() if proposed else None,
        "timezone": clinic.timezone,
        "clinic": clinic.short_name,
        "locale": locale,
        "reason": request.reason,
    }


class RequestClosed(DomainError):
    """The request can no longer be decided (already decided, expired, or the appointment changed)."""


class RequestNotYours(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This request is not about your schedule."))


@dataclass(frozen=True)
class Decision:
    request_id: int
    status: str
    appointment_id: int
    starts_at: datetime  # the appointment's time after the decision
    timezone: str


class ChangeRequestService(ScheduleUseCase):
    # --- producers (the clinic system adapter, the registry, an administrator) ----------------

    async def create(
        self,
        appointment_id: int,
        *,
        requested_by: str,
        kind: str,
        proposed_starts_at: datetime | None = None,
        requester_chat_id: int | None = None,
        ttl: timedelta = DEFAULT_TTL,
        reason: str | None = None,
        external_id: str | None = None,
    ) -> int:
        """Record a request and queue the doctor's message (urgent when it concerns today).
        ``external_id``: the clinic system's Task it came from, answered when decided."""
        if requested_by not in REQUESTERS or kind not in (REQUEST_MOVE, REQUEST_CANCEL):
            raise ValueError("unknown requester or kind")
        if (kind == REQUEST_MOVE) != (proposed_starts_at is not None):
            raise ValueError("a move needs a proposed time; a cancellation has none")
        if reason is not None and reason not in REASONS:
            raise ValueError("a reason is one of the codes in REASONS, never free text")
        session = self._uow.session
        appointment = await AppointmentRepository(session).get(appointment_id)
        if appointment is None or appointment.status != BOOKED:
            raise DomainError(N_("Only a booked appointment can be changed."))
        clinic = await ClinicRepository(session).get(appointment.clinic_id)
        assert clinic is not None
        now = self._clock()
        proposed_end = (
            proposed_starts_at + (appointment.ends_at - appointment.starts_at) if proposed_starts_at is not None else None
        )
        request = await ChangeRequestRepository(session).add(
            appointment.id,
            appointment.doctor_id,
            requested_by=requested_by,
            kind=kind,
            appointment_version=appointment.version,
            expires_at=now + ttl,
            requester_chat_id=requester_chat_id,
            proposed_starts_at=proposed_starts_at,
            proposed_ends_at=proposed_end,
            reason=reason,
            created_at=now,
            external_id=external_id,
        )
        account = await TelegramAccountRepository(session).get_by_doctor(appointment.doctor_id)
        if account is not None:
            await OutboxRepository(session).enqueue(
                account.chat_id,
                CHANGE_REQUEST,
                f"{CHANGE_REQUEST}:{request.id}",
                now,
                urgency=URGENT if is_same_day(request, appointment.starts_at, clinic.timezone, now) else ROUTINE,
                doctor_id=appointment.doctor_id,
                payload=request_payload(request, appointment.starts_at, clinic, account.locale),
            )
        await self._uow.commit()
        return request.id

    # --- the doctor's decision ---------------------------------------------------------------

    async def _open_request(self, telegram_user_id: int, request_id: int, operation: str) -> tuple[str, ChangeRequest]:
        actor = await self._access.doctor(telegram_user_id, operation, patient_data=False)
        request = await ChangeRequestRepository(self._uow.session).get(request_id)
        if request is None or request.doctor_id != actor.doctor_id:
            await AuditService(self._uow).record(actor.actor, operation, "change_request", request_id, "denied")
            await self._uow.commit()
            raise RequestNotYours()
        if request.status != REQUEST_PENDING:
            raise RequestClosed(_CLOSED[request.status])
        appointment = await AppointmentRepository(self._uow.session).get(request.appointment_id)
        now = self._clock()
        if request.expires_at <= now or appointment is None or appointment.version != request.appointment_version:
            await ChangeRequestRepository(self._uow.session).decide(request.id, REQUEST_EXPIRED, now)
            await AuditService(self._uow).record(actor.actor, operation, "change_request", request_id, "failed", reason="expired")
            await self._uow.commit()
            if request.expires_at <= now:
                raise RequestClosed(_CLOSED[REQUEST_EXPIRED])
            raise RequestClosed(N_("The appointment has changed since this request was made, so the request is closed."))
        return actor.actor, request

    async def decide(self, telegram_user_id: int, request_id: int, confirm: bool) -> Decision:
        actor, request = await self._open_request(telegram_user_id, request_id, "change_request_decide")
        session = self._uow.session
        appointments = AppointmentRepository(session)
        now = self._clock()
        status = REQUEST_CONFIRMED if confirm else REQUEST_DECLINED
        if confirm and request.kind == REQUEST_MOVE:
            await self._check_still_bookable(request, now)
        if not await ChangeRequestRepository(session).decide(request.id, status, now):
            raise RequestClosed(N_("This request has already been decided."))
        if confirm:
            values: dict[str, object]
            if request.kind == REQUEST_MOVE:
                assert request.proposed_starts_at is not None and request.proposed_ends_at is not None
                values = {"starts_at": request.proposed_starts_at, "ends_at": request.proposed_ends_at}
                event = "rescheduled"
            else:
                values = {
                    "status": CANCELLED_APPOINTMENT,
                    "cancel_reason": self._cipher.encrypt(
                        f"change request {request.id} ({request.requested_by})", "appointments.cancel_reason"
                    ),
                }
                event = CANCELLED_APPOINTMENT
            try:
                changed = await appointments.change(
                    request.appointment_id, request.appointment_version, actor=actor, event=event, **values
                )
            except SlotTaken:
                await self._uow.rollback()
                raise RequestClosed(
                    N_("The requested time is already taken by another appointment. Decline or propose another time.")
                ) from None
            if not changed:
                await self._uow.rollback()
                raise RequestClosed(N_("The appointment has changed since this request was made, so the request is closed."))
        appointment = await appointments.get(request.appointment_id)
        assert appointment is not None
        clinic = await ClinicRepository(session).get(appointment.clinic_id)
        assert clinic is not None
        await self._report(request, status, appointment.starts_at, clinic.timezone, now)
        await AuditService(self._uow).record(actor, "change_request_decide", "change_request", request.id, "ok", status=status)
        await self._uow.commit()
        return Decision(request.id, status, appointment.id, appointment.starts_at, clinic.timezone)

    async def _check_still_bookable(self, request: ChangeRequest, now: datetime) -> None:
        """A proposed time is checked again when it is confirmed: since the request was made the
        shift may have been withdrawn, or the time passed (producers outside the chat are not
        checked against shifts at all)."""
        assert request.proposed_starts_at is not None
        appointment = await AppointmentRepository(self._uow.session).get(request.appointment_id)
        assert appointment is not None
        shifts = await ShiftRepository(self._uow.session).overlapping(
            request.proposed_starts_at,
            request.proposed_starts_at + timedelta(seconds=1),
            doctor_id=request.doctor_id,
            clinic_ids=[appointment.clinic_id],
            published_only=True,
        )
        if request.proposed_starts_at <= now or slot_at(shifts, request.proposed_starts_at) is None:
            raise RequestClosed(
                N_("The proposed time is no longer open in your published shifts. Decline or propose another time.")
            )

    async def counter_slots(self, telegram_user_id: int, request_id: int, limit: int = 6) -> list[Slot]:
        """Free slots the doctor could propose instead (same clinic, from now on)."""
        _, request = await self._open_request(telegram_user_id, request_id, "change_request_counter")
        appointment = await AppointmentRepository(self._uow.session).get(request.appointment_id)
        assert appointment is not None
        now = self._clock()
        slots = await open_slots(
            self._uow.session, request.doctor_id, [appointment.clinic_id], now, now + timedelta(days=SLOT_SEARCH_DAYS), now,
            exclude=appointment.id,
        )
        return [s for s in slots if s.starts_at != appointment.starts_at][:limit]

    async def counter(self, telegram_user_id: int, request_id: int, starts_at: datetime) -> Decision:
        """Propose another time: the request is closed as countered and the proposal reported back."""
        actor, request = await self._open_request(telegram_user_id, request_id, "change_request_counter")
        session = self._uow.session
        appointment = await AppointmentRepository(session).get(request.appointment_id)
        assert appointment is not None
        shifts = await ShiftRepository(session).overlapping(
            starts_at, starts_at + timedelta(seconds=1), doctor_id=request.doctor_id, clinic_ids=[appointment.clinic_id], published_only=True
        )
        now = self._clock()
        if starts_at <= now or slot_at(shifts, starts_at) is None:
            raise DomainError(N_("There is no slot at this time: it is outside your published shifts or in a break."))
        if not await ChangeRequestRepository(session).decide(request.id, REQUEST_COUNTERED, now):
            raise RequestClosed(N_("This request has already been decided."))
        # Kept for the answer to the clinic system (its Task carries the proposed period).
        request.countered_starts_at = starts_at
        request.countered_ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
        clinic = await ClinicRepository(session).get(appointment.clinic_id)
        assert clinic is not None
        await self._report(request, REQUEST_COUNTERED, starts_at, clinic.timezone, now)
        await AuditService(self._uow).record(actor, "change_request_counter", "change_request", request.id, "ok")
        await self._uow.commit()
        return Decision(request.id, REQUEST_COUNTERED, appointment.id, starts_at, clinic.timezone)

    async def _report(self, request: ChangeRequest, status: str, starts_at: datetime, tz: str, now: datetime) -> None:
        if request.requester_chat_id is None:
            return  # the clinic system's Task is answered by its sync (services/schedule/clinic_requests.py)
        await OutboxRepository(self._uow.session).enqueue(
            request.requester_chat_id,
            CHANGE_REQUEST_RESULT,
            f"{CHANGE_REQUEST_RESULT}:{request.id}",
            now,
            payload={
                "request_id": request.id,
                "kind": request.kind,
                "status": status,
                "starts_at": starts_at.isoformat(),
                "timezone": tz,
            },
        )


_CLOSED = {
    REQUEST_CONFIRMED: N_("This request has already been confirmed."),
    REQUEST_DECLINED: N_("This request has already been declined."),
    REQUEST_COUNTERED: N_("You have already proposed another time for this request."),
    REQUEST_EXPIRED: N_("This request has expired: the registry will send a new one if it is still needed."),
}
