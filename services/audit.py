"""The audit trail: who did what to which object, and how it ended. Appended in the caller's
transaction, so an action and its record commit (or roll back) together."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.errors import N_, DomainError
from services.uow import UnitOfWork
from storage.models import AuditEvent
from storage.repositories.audit import AuditRepository


def tg_actor(telegram_user_id: int) -> str:
    return f"tg:{telegram_user_id}"


def doctor_actor(doctor_id: int) -> str:
    return f"doctor:{doctor_id}"


class AuditService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def record(
        self,
        actor: str,
        operation: str,
        object_type: str,
        object_id: str | int | None = None,
        outcome: str = "ok",
        **details: Any,
    ) -> None:
        await AuditRepository(self._uow.session).append(
            actor=actor,
            operation=operation,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            outcome=outcome,
            details=details or None,
        )


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    operation: str
    object_type: str | None
    object_id: str | None
    outcome: str


class AuditQueryService:
    """What a clinic administrator may read of the audit log: ids and codes, never patient data."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @staticmethod
    def _row(event: AuditEvent) -> AuditRow:
        return AuditRow(event.id, event.at, event.actor, event.operation, event.object_type, event.object_id, event.outcome)

    async def recent(self, admin_actor: str, limit: int = 15) -> list[AuditRow]:
        rows = [self._row(e) for e in await AuditRepository(self._uow.session).recent(limit)]
        await AuditService(self._uow).record(admin_actor, "audit_view", "audit", None, "ok", rows=len(rows))
        await self._uow.commit()
        return rows

    async def export_csv(self, admin_actor: str, start: datetime, end: datetime) -> bytes:
        if end <= start:
            raise DomainError(N_("The end of the period must be after its start."))
        if end - start > timedelta(days=366):
            raise DomainError(N_("The period is too long: export at most one year at a time."))
        events = await AuditRepository(self._uow.session).between(start, end)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "time_utc", "actor", "operation", "object_type", "object_id", "outcome", "hash"])
        for e in events:
            writer.writerow([e.id, e.at.isoformat(), e.actor, e.operation, e.object_type or "", e.object_id or "", e.outcome, e.hash])
        await AuditService(self._uow).record(
            admin_actor, "audit_export", "audit", None, "ok", rows=len(events), start=start.isoformat(), end=end.isoformat()
        )
        await self._uow.commit()
        # A BOM so that Excel, which clinics use, opens UTF-8 correctly.
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
