"""The audit trail: who did what to which object, and how it ended. Appended in the caller's
transaction, so an action and its record commit (or roll back) together; reads that change
nothing (the day view) may go through ``AuditBuffer`` instead, appended in batches."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.errors import N_, DomainError
from services.uow import UnitOfWork
from storage.models import OUTCOMES, AuditEvent, canonical_json, utcnow
from storage.repositories.audit import AuditRepository, NewAuditEvent

logger = logging.getLogger(__name__)


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


class AuditBuffer:
    """Records of reads (a doctor looked at a day) appended in batches, off the request's path.

    A view changes nothing to commit a record with, so waiting for its own transaction would
    only slow the doctor down: records wait here at most ``delay`` seconds (or until
    ``max_pending`` are waiting) and are appended together, in order, with the time each read
    happened. A failed write keeps them for the next attempt; ``close()`` at shutdown writes
    what is left. Changes are never recorded this way: their records commit with them.
    """

    def __init__(
        self, session_maker: async_sessionmaker[AsyncSession], delay: float = 0.2, max_pending: int = 500
    ) -> None:
        self._session_maker = session_maker
        self._delay = delay
        self._max_pending = max_pending
        self._pending: list[NewAuditEvent] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[int]] = set()

    def add(
        self,
        actor: str,
        operation: str,
        object_type: str,
        object_id: str | int | None = None,
        outcome: str = "ok",
        **details: Any,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        canonical_json(details)  # not JSON: the caller's mistake, raised here and not at the flush
        self._pending.append(
            NewAuditEvent(actor, operation, object_type, object_id, outcome, details or None, utcnow())
        )
        if len(self._pending) >= self._max_pending:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._start_flush)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> int:
        """Append everything waiting now; the number written (0 when the database failed)."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                async with UnitOfWork(self._session_maker) as uow:
                    await AuditRepository(uow.session).append_many(batch)
                    await uow.commit()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("could not write %d audit records (%s); retrying", len(batch), type(exc).__name__)
                self._pending[:0] = batch
                if self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(max(self._delay, 1.0), self._start_flush)
                return 0
            return len(batch)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        if self._timer is not None:  # the last attempt failed: nothing will retry after shutdown
            self._timer.cancel()
            self._timer = None
            logger.error("%d audit records could not be written before shutdown", len(self._pending))


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
        return AuditRow(
            event.id, event.at, event.actor, event.operation, event.object_type, event.object_id, event.outcome
        )

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
            writer.writerow(
                [
                    e.id,
                    e.at.isoformat(),
                    e.actor,
                    e.operation,
                    e.object_type or "",
                    e.object_id or "",
                    e.outcome,
                    e.hash,
                ]
            )
        await AuditService(self._uow).record(
            admin_actor,
            "audit_export",
            "audit",
            None,
            "ok",
            rows=len(events),
            start=start.isoformat(),
            end=end.isoformat(),
        )
        await self._uow.commit()
        # A BOM so that Excel, which clinics use, opens UTF-8 correctly.
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
