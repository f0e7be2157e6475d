"""Change requests from the clinic system, and the doctor's answers written back (FHIR R4 ``Task``).

When the registry or a patient (through the clinic's portal) asks to move or cancel an
appointment, the clinic system (МИС) holds a ``Task``: ``intent`` proposal, ``code`` ``change``
(move; ``input`` start and end of the proposed period) or ``abort`` (cancel), ``focus`` the
appointment by our identifier (``urn:medcab:appointment``), ``requester`` a Patient or the
registry, ``reasonCode`` one of our reason codes, ``restriction.period.end`` how long it stands.

Each tick reads the Tasks still ``requested``; each becomes a change request (the doctor's
message with «Подтвердить» / «Отклонить» / «Предложить другое время») and the Task is marked
``received``, so it is not read again. A Task that names no bookable appointment of ours, or is
malformed, is ``rejected`` with the reason and creates nothing. When the doctor decides (or the
request expires), the Task is read again and updated: ``completed`` (confirmed), ``rejected``
(declined; countered, with the proposed period in ``output``) or ``failed`` (expired). An
outage only delays: a Task marked nowhere is read again, an answer not written is retried, and
one Task never makes two requests (``change_requests.external_id`` is unique).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.errors import DomainError
from services.fhir.api import FhirApi
from services.schedule.change_requests import ChangeRequestService
from services.uow import UnitOfWork
from storage.crypto import FieldCipher
from storage.models import ChangeRequest
from storage.models.change_request import (
    REASONS,
    REQUEST_CANCEL,
    REQUEST_CONFIRMED,
    REQUEST_COUNTERED,
    REQUEST_DECLINED,
    REQUEST_EXPIRED,
    REQUEST_MOVE,
)
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.schedule import AppointmentRepository

logger = logging.getLogger(__name__)

APPOINTMENT_SYSTEM = "urn:medcab:appointment"
REASON_SYSTEM = "urn:medcab:change-reason"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
ANSWER_SYSTEM = "urn:medcab:change-answer"
KINDS = {"change": REQUEST_MOVE, "abort": REQUEST_CANCEL}
MIN_TTL, MAX_TTL, DEFAULT_TTL = timedelta(minutes=5), timedelta(days=7), timedelta(hours=24)
MAX_ID = 64

# Our decision → the Task's status and why.
ANSWERS: dict[str, tuple[str, str | None]] = {
    REQUEST_CONFIRMED: ("completed", None),
    REQUEST_DECLINED: ("rejected", "declined"),
    REQUEST_COUNTERED: ("rejected", "counter-proposal"),
    REQUEST_EXPIRED: ("failed", "expired"),
}


class BadTask(Exception):
    """The Task cannot become a request; the message (no patient data) goes back in statusReason."""


@dataclass(frozen=True)
class Incoming:
    task_id: str
    appointment_id: int
    kind: str
    requested_by: str
    proposed_start: datetime | None
    proposed_end: datetime | None
    reason: str | None
    expires_at: datetime | None


@dataclass
class SyncReport:
    imported: int = 0
    refused: int = 0
    answered: int = 0
    expired: int = 0
    errors: list[str] = field(default_factory=list)


def _instant(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or "T" not in value:
        raise BadTask(f"{what} must be a dateTime with a time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadTask(f"{what} is not a valid dateTime") from None
    if moment.tzinfo is None:
        raise BadTask(f"{what} needs a time zone")
    return moment.astimezone(UTC)


def _code(concept: Any, system: str) -> str | None:
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("system") == system and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _input(task: dict[str, Any], name: str) -> Any:
    for item in task.get("input") or []:
        if isinstance(item, dict) and isinstance(item.get("type"), dict) and item["type"].get("text") == name:
            return item.get("valueDateTime")
    return None


def parse_task(task: Any) -> Incoming:
    """The request a Task asks for; BadTask (with a reason for the clinic system) when it cannot be one."""
    if not isinstance(task, dict) or task.get("resourceType") != "Task":
        raise BadTask("not a Task")
    task_id = task.get("id")
    if not isinstance(task_id, str) or not 0 < len(task_id) <= MAX_ID:
        raise BadTask("Task.id is required")
    if task.get("intent") != "proposal":
        raise BadTask("Task.intent must be proposal")
    kind = KINDS.get(_code(task.get("code"), TASK_CODE_SYSTEM) or "")
    if kind is None:
        raise BadTask("Task.code must be change or abort")
    focus = task.get("focus")
    identifier = focus.get("identifier") if isinstance(focus, dict) else None
    if not isinstance(identifier, dict) or identifier.get("system") != APPOINTMENT_SYSTEM:
        raise BadTask(f"Task.focus must name the appointment by {APPOINTMENT_SYSTEM}")
    value = str(identifier.get("value") or "")
    if not value.isdigit() or len(value) > 18:
        raise BadTask("Task.focus.identifier.value is not an appointment number")
    requester = task.get("requester")
    reference = str(requester.get("reference") or "") if isinstance(requester, dict) else ""
    requested_by = "patient" if reference.startswith("Patient/") else "registry"
    start = end = None
    if kind == REQUEST_MOVE:
        start, end = _instant(_input(task, "start"), "input start"), _instant(_input(task, "end"), "input end")
        if end <= start:
            raise BadTask("the proposed period must end after it starts")
    reason = _code(task.get("reasonCode"), REASON_SYSTEM)
    restriction = task.get("restriction")
    period = restriction.get("period") if isinstance(restriction, dict) else None
    until = period.get("end") if isinstance(period, dict) else None
    return Incoming(
        task_id=task_id,
        appointment_id=int(value),
        kind=kind,
        requested_by=requested_by,
        proposed_start=start,
        proposed_end=end,
        reason=reason if reason in REASONS else None,
        expires_at=_instant(until, "restriction.period.end") if until is not None else None,
    )


def with_status(task: dict[str, Any], status: str, now: datetime, reason: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Task as read, moved to ``status`` (why in ``statusReason``); what the server keeps
    (``meta``) and an earlier answer are left out."""
    updated = {key: value for key, value in task.items() if key not in ("statusReason", "output", "meta")}
    updated["status"] = status
    updated["lastModified"] = now.isoformat()
    if reason is not None:
        updated["statusReason"] = reason
    return updated


def answer(task: dict[str, Any], request: ChangeRequest, now: datetime) -> dict[str, Any]:
    """The Task updated with the doctor's decision (the resource as read, with status and why)."""
    status, why = ANSWERS[request.status]
    reason = {"coding": [{"system": ANSWER_SYSTEM, "code": why}]} if why is not None else None
    updated = with_status(task, status, now, reason)
    if request.status == REQUEST_COUNTERED and request.countered_starts_at and request.countered_ends_at:
        updated["output"] = [
            {
                "type": {"text": "counter-proposal"},
                "valuePeriod": {
                    "start": request.countered_starts_at.isoformat(),
                    "end": request.countered_ends_at.isoformat(),
                },
            }
        ]
    return updated


class ClinicRequestSync:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        cipher: FieldCipher,
        http: aiohttp.ClientSession,
        base_url: str,
        api_key: str = "",
        *,
        timeout: float = 10.0,
        batch: int = 50,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._session_maker = session_maker
        self._cipher = cipher
        self._fhir = FhirApi(http, base_url, api_key, timeout)
        self._batch = batch
        self._clock = now or (lambda: datetime.now(UTC))

    async def tick(self) -> SyncReport:
        report = SyncReport()
        try:
            await self._import(report)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            report.errors.append(f"reading requests: {type(exc).__name__}")
        async with UnitOfWork(self._session_maker) as uow:
            report.expired = await ChangeRequestRepository(uow.session).expire_external(self._clock())
            await uow.commit()
        await self._answer(report)
        return report

    # --- requests in -------------------------------------------------------------------------

    async def _import(self, report: SyncReport) -> None:
        params = {"status": "requested", "intent": "proposal", "_count": str(self._batch)}
        async with self._fhir.http.get(self._fhir.url("/Task"), params=params, headers=self._fhir.headers(), timeout=self._fhir.timeout) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            bundle = await response.json(content_type=None)
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise ValueError("the search did not answer a Bundle")
        for entry in bundle.get("entry") or []:
            task = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(task, dict) or not isinstance(task.get("id"), str):
                report.errors.append("a search entry without a Task id")
                continue
            try:
                await self._one(task, report)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                report.errors.append(f"task {task.get('id')}: {type(exc).__name__}")

    async def _one(self, task: dict[str, Any], report: SyncReport) -> None:
        try:
            incoming = parse_task(task)
        except BadTask as exc:
            await self._put(task, "rejected", str(exc))
            report.refused += 1
            return
        refusal = await self._create(incoming)
        if refusal is not None:
            await self._put(task, "rejected", refusal)
            report.refused += 1
            return
        await self._put(task, "received", None)
        report.imported += 1

    async def _create(self, incoming: Incoming) -> str | None:
        """Record the request (once per Task); a reason when it cannot be one."""
        now = self._clock()
        async with UnitOfWork(self._session_maker) as uow:
            if await ChangeRequestRepository(uow.session).by_external_id(incoming.task_id) is not None:
                return None  # read before, its "received" was lost: nothing new
            appointment = await AppointmentRepository(uow.session).get(incoming.appointment_id)
            if appointment is None:
                return "no such appointment"
            if incoming.proposed_start is not None and incoming.proposed_end is not None:
                if incoming.proposed_end - incoming.proposed_start != appointment.ends_at - appointment.starts_at:
                    return "the proposed period must keep the appointment's length"
                if incoming.proposed_start <= now:
                    return "the proposed time has passed"
            ttl = DEFAULT_TTL if incoming.expires_at is None else incoming.expires_at - now
            if ttl < MIN_TTL:
                return "the request expires too soon to be answered"
            try:
                await ChangeRequestService(uow, self._cipher, now=lambda: now).create(
                    incoming.appointment_id,
                    requested_by=incoming.requested_by,
                    kind=incoming.kind,
                    proposed_starts_at=incoming.proposed_start,
                    ttl=min(ttl, MAX_TTL),
                    reason=incoming.reason,
                    external_id=incoming.task_id,
                )
            except DomainError:
                return "the appointment is no longer booked"
            except IntegrityError:
                return None  # another process recorded it at the same moment
        return None

    # --- answers out -------------------------------------------------------------------------

    async def _answer(self, report: SyncReport) -> None:
        async with UnitOfWork(self._session_maker) as uow:
            due = await ChangeRequestRepository(uow.session).unreported_external(self._batch)
        for request in due:
            assert request.external_id is not None
            try:
                task = await self._get(request.external_id)
                if task is not None:
                    await self._send(answer(task, request, self._clock()))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                report.errors.append(f"answer {request.id}: {type(exc).__name__}")
                continue  # retried at the next tick
            async with UnitOfWork(self._session_maker) as uow:
                await ChangeRequestRepository(uow.session).mark_reported(request.id, self._clock())
                await uow.commit()
            report.answered += 1

    async def _get(self, task_id: str) -> dict[str, Any] | None:
        """The Task as the clinic system has it now; None when it is gone (nothing to answer)."""
        url = self._fhir.url(f"/Task/{task_id}")
        async with self._fhir.http.get(url, headers=self._fhir.headers(), timeout=self._fhir.timeout) as response:
            if response.status in (404, 410):
                return None
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            task = await response.json(content_type=None)
        if not isinstance(task, dict) or task.get("resourceType") != "Task":
            raise ValueError("not a Task")
        return task

    async def _put(self, task: dict[str, Any], status: str, why: str | None) -> None:
        await self._send(with_status(task, status, self._clock(), {"text": why} if why is not None else None))

    async def _send(self, task: dict[str, Any]) -> None:
        url = self._fhir.url(f"/Task/{task['id']}")
        headers = self._fhir.headers(**{"Content-Type": "application/fhir+json"})
        async with self._fhir.http.put(url, json=task, headers=headers, timeout=self._fhir.timeout) as response:
            if response.status not in (200, 201):
                raise ValueError(f"HTTP {response.status}")
