"""Change requests about appointments, decided once (a conditional update: two presses, one decision)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Appointment, ChangeRequest, Clinic, Notification
from storage.models.change_request import REQUEST_EXPIRED, REQUEST_PENDING


class ChangeRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        appointment_id: int,
        doctor_id: int,
        *,
        requested_by: str,
        kind: str,
        appointment_version: int,
        expires_at: datetime,
        requester_chat_id: int | None = None,
        proposed_starts_at: datetime | None = None,
        proposed_ends_at: datetime | None = None,
        reason: str | None = None,
        created_at: datetime | None = None,
        external_id: str | None = None,
    ) -> ChangeRequest:
        request = ChangeRequest(
            appointment_id=appointment_id,
            doctor_id=doctor_id,
            requested_by=requested_by,
            requester_chat_id=requester_chat_id,
            kind=kind,
            proposed_starts_at=proposed_starts_at,
            proposed_ends_at=proposed_ends_at,
            reason=reason,
            appointment_version=appointment_version,
            status=REQUEST_PENDING,
            expires_at=expires_at,
            external_id=external_id,
        )
        if created_at is not None:
            request.created_at = created_at
        self._session.add(request)
        await self._session.flush()
        return request

    async def get(self, request_id: int) -> ChangeRequest | None:
        return await self._session.get(ChangeRequest, request_id, populate_existing=True)

    async def decide(self, request_id: int, status: str, at: datetime) -> bool:
        """Pending → ``status``; False when it was no longer pending (decided by another press)."""
        result = await self._session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == request_id, ChangeRequest.status == REQUEST_PENDING)
            .values(status=status, decided_at=at)
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 0) == 1

    async def pending_count(self, doctor_id: int, now: datetime) -> int:
        statement = select(func.count()).where(
            ChangeRequest.doctor_id == doctor_id,
            ChangeRequest.status == REQUEST_PENDING,
            ChangeRequest.expires_at > now,
        )
        return int(await self._session.scalar(statement) or 0)

    async def pending_for_appointment(self, appointment_id: int, now: datetime) -> ChangeRequest | None:
        """An open (pending, not expired) request about this appointment, if any."""
        statement = select(ChangeRequest).where(
            ChangeRequest.appointment_id == appointment_id,
            ChangeRequest.status == REQUEST_PENDING,
            ChangeRequest.expires_at > now,
        )
        return (await self._session.scalars(statement.limit(1))).first()

    async def pending_since(
        self, cutoff: datetime, now: datetime, *, without_notification: tuple[str, str] | None = None
    ) -> list[tuple[ChangeRequest, Appointment, Clinic]]:
        """Open requests made at or before ``cutoff``, with their appointment and its clinic (oldest first).

        ``without_notification=(prefix, suffix)``: only those with no notification keyed
        ``prefix + id + suffix`` yet (a reminder queued once is not looked at again)."""
        statement = (
            select(ChangeRequest, Appointment, Clinic)
            .join(Appointment, Appointment.id == ChangeRequest.appointment_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .where(
                ChangeRequest.status == REQUEST_PENDING,
                ChangeRequest.expires_at > now,
                ChangeRequest.created_at <= cutoff,
            )
            .order_by(ChangeRequest.created_at, ChangeRequest.id)
        )
        if without_notification is not None:
            prefix, suffix = without_notification
            key = literal(prefix) + cast(ChangeRequest.id, String) + literal(suffix)
            statement = statement.where(~exists().where(Notification.dedup_key == key))
        return [(r, a, c) for r, a, c in (await self._session.execute(statement)).all()]

    # --- requests from the clinic system -----------------------------------------------------

    async def by_external_id(self, external_id: str) -> ChangeRequest | None:
        statement = select(ChangeRequest).where(ChangeRequest.external_id == external_id)
        return (await self._session.scalars(statement.limit(1))).first()

    async def expire_external(self, now: datetime) -> int:
        """Close the clinic system's requests nobody decided in time (their answer is then due)."""
        result = await self._session.execute(
            update(ChangeRequest)
            .where(
                ChangeRequest.external_id.is_not(None),
                ChangeRequest.status == REQUEST_PENDING,
                ChangeRequest.expires_at <= now,
            )
            .values(status=REQUEST_EXPIRED, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def unreported_external(self, limit: int = 50) -> list[ChangeRequest]:
        """Decided requests of the clinic system whose answer was not written back yet (oldest first)."""
        statement = (
            select(ChangeRequest)
            .where(
                ChangeRequest.external_id.is_not(None),
                ChangeRequest.status != REQUEST_PENDING,
                ChangeRequest.external_reported_at.is_(None),
            )
            .order_by(ChangeRequest.decided_at, ChangeRequest.id)
            .limit(limit)
        )
        return list((await self._session.scalars(statement)).all())

    async def mark_reported(self, request_id: int, at: datetime) -> None:
        await self._session.execute(
            update(ChangeRequest)
            .where(ChangeRequest.id == request_id)
            .values(external_reported_at=at)
            .execution_options(synchronize_session=False)
        )
