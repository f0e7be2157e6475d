"""The notification outbox: enqueue (idempotent), claim due rows under a lease, record outcomes.

Delivery is at least once: a row is claimed (``sending``, leased to one worker until
``claimed_until``), sent, then marked. Every mark names the worker and succeeds only while that
worker still holds the claim, so a worker whose lease ran out and whose row was taken over can
never overwrite the other worker's result. Worker ids must be unique per process (host, pid and a
random part), or two processes could finish each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import ReturningUpdate

from storage.dialects import dialect_name, upsert_insert
from storage.models import (
    CANCELLED,
    FAILED,
    FINISHED,
    PENDING,
    ROUTINE,
    SENDING,
    SENT,
    STATUSES,
    URGENCIES,
    URGENT,
    Notification,
    utcnow,
)

ERROR_LENGTH = 300  # notifications.last_error
WORKER_ID_LENGTH = 64  # notifications.claimed_by
ENQUEUE_CHUNK = 500  # rows per INSERT statement (× 13 parameters stays far below both drivers' limits)
LEASE_EXPIRED = "lease expired"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification to enqueue (``OutboxRepository.enqueue_many``)."""

    chat_id: int
    kind: str
    dedup_key: str
    due_at: datetime
    urgency: str = ROUTINE
    payload: Mapping[str, Any] = field(default_factory=dict)
    doctor_id: int | None = None
    announcement_id: int | None = None


def _check_urgency(urgency: str) -> str:
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}, not {urgency!r}")
    return urgency


def _check_worker(worker_id: str) -> str:
    if not worker_id or len(worker_id) > WORKER_ID_LENGTH:
        raise ValueError(f"worker_id must be 1..{WORKER_ID_LENGTH} characters")
    return worker_id


def _error(text: str) -> str:
    """Fits ``last_error``; callers pass a code and a short reason, never a message text."""
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def _row(item: OutboxItem, now: datetime) -> dict[str, Any]:
    return {
        "chat_id": item.chat_id,
        "doctor_id": item.doctor_id,
        "kind": item.kind,
        "urgency": _check_urgency(item.urgency),
        "payload": dict(item.payload),
        "dedup_key": item.dedup_key,
        "due_at": item.due_at,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": item.due_at,
        "announcement_id": item.announcement_id,
        "created_at": now,
        "updated_at": now,
    }


# The status as a literal, not a bound parameter: only then can the planner prove that a query
# matches the partial indexes' predicate, in every plan (PostgreSQL's generic plans for prepared
# statements, which asyncpg uses, and SQLite's).
_IS_PENDING = Notification.status == literal_column(f"'{PENDING}'")

# Urgent first, then the longest waiting. Computed, so the claim index can stay on next_attempt_at
# alone: the backlog it scans is what is due now, which the sender drains at Telegram's pace.
_URGENT_FIRST = case((Notification.urgency == URGENT, 0), else_=1)
CLAIM_ORDER = (_URGENT_FIRST, Notification.next_attempt_at, Notification.id)


def _claim_sort_key(row: Notification) -> tuple[int, datetime, int]:
    return (0 if row.urgency == URGENT else 1, row.next_attempt_at, row.id)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- producers ------------------------------------------------------------------------------

    async def enqueue(
        self,
        chat_id: int,
        kind: str,
        dedup_key: str,
        due_at: datetime,
        *,
        urgency: str = ROUTINE,
        payload: Mapping[str, Any] | None = None,
        doctor_id: int | None = None,
        announcement_id: int | None = None,
    ) -> int | None:
        """The new row's id, or None when a row with this ``dedup_key`` already exists (whatever its
        status: a sent reminder is not sent again)."""
        item = OutboxItem(chat_id, kind, dedup_key, due_at, urgency, payload or {}, doctor_id, announcement_id)
        insert = upsert_insert(self._session, Notification).values(_row(item, utcnow()))
        statement = insert.on_conflict_do_nothing(index_elements=[Notification.dedup_key]).returning(Notification.id)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def enqueue_many(self, items: Iterable[OutboxItem | Mapping[str, Any]]) -> int:
        """Enqueue in bulk, one statement per ``ENQUEUE_CHUNK`` rows; the number of rows actually
        added (existing ``dedup_key``s, also repeated within ``items``, are skipped).

        Each item is an OutboxItem or a mapping with its fields (``enqueue``'s arguments).
        """
        now = utcnow()
        added = 0
        chunk: list[dict[str, Any]] = []
        for item in items:
            chunk.append(_row(item if isinstance(item, OutboxItem) else OutboxItem(**item), now))
            if len(chunk) == ENQUEUE_CHUNK:
                added += await self._insert_chunk(chunk)
                chunk = []
        if chunk:
            added += await self._insert_chunk(chunk)
        return added

    async def _insert_chunk(self, rows: list[dict[str, Any]]) -> int:
        # executemany of one compiled statement: SQLAlchemy sends it as a single multi-row INSERT
        # ("insertmanyvalues"), without compiling a 500-row statement each time.
        insert = upsert_insert(self._session, Notification.__table__)
        statement = insert.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(Notification.__table__.c.id)
        connection = await self._session.connection()
        result = await connection.execute(statement.execution_options(insertmanyvalues_page_size=ENQUEUE_CHUNK), rows)
        return len(result.all())

    # --- the delivery worker --------------------------------------------------------------------

    async def claim_due(self, now: datetime, limit: int, worker_id: str, lease: timedelta) -> list[Notification]:
        """Take up to ``limit`` due pending rows (urgent first, then by next_attempt_at, id): they
        become ``sending``, leased to ``worker_id`` until ``now + lease``. In claim order.

        On PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED, so concurrent claims from
        several processes never take the same row and never wait for each other; SQLite has one
        writer at a time, so the UPDATE … WHERE id IN (SELECT … LIMIT) is atomic as it is. Commit
        soon after: on PostgreSQL the picked rows stay locked until then.
        """
        if limit <= 0:
            return []
        statement = self.claim_due_statement(now, limit, worker_id, lease)
        rows = list((await self._session.scalars(statement)).all())
        rows.sort(key=_claim_sort_key)  # RETURNING has no order
        return rows

    def claim_due_statement(
        self, now: datetime, limit: int, worker_id: str, lease: timedelta
    ) -> ReturningUpdate[tuple[Notification]]:
        """The statement ``claim_due`` runs, for this session's database (EXPLAIN it to check the plan)."""
        _check_worker(worker_id)
        if limit <= 0:
            raise ValueError("limit must be positive")
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        due = (
            select(Notification.id)
            .where(_IS_PENDING, Notification.next_attempt_at <= now)
            .order_by(*CLAIM_ORDER)
            .limit(limit)
        )
        if dialect_name(self._session) == "postgresql":
            # Materialized once; the row locks it takes are what make the claim exclusive.
            picked = due.with_for_update(skip_locked=True).cte("picked")
            condition = Notification.id.in_(select(picked.c.id))
        else:
            condition = Notification.id.in_(due.scalar_subquery())
        return (
            update(Notification)
            .where(condition, _IS_PENDING)
            .values(status=SENDING, claimed_by=worker_id, claimed_until=now + lease, updated_at=now)
            .returning(Notification)
            .execution_options(synchronize_session=False, populate_existing=True)
        )

    def _held(self, notification_id: int, worker_id: str) -> tuple[ColumnElement[bool], ...]:
        return (
            Notification.id == notification_id,
            Notification.status == SENDING,
            Notification.claimed_by == worker_id,
        )

    async def _finish(self, notification_id: int, worker_id: str, values: dict[str, Any]) -> bool:
        if self._session.identity_map.get(identity_key(Notification, notification_id)) is not None:
            # The caller holds the row as an object: the ORM path keeps it in step.
            statement = (
                update(Notification)
                .where(*self._held(notification_id, worker_id))
                .values(values)
                .returning(Notification.id)
                .execution_options(synchronize_session="fetch")
            )
            return (await self._session.execute(statement)).first() is not None
        # Otherwise a Core UPDATE on the table: recording an outcome is the sender's hottest
        # statement (one per message, in a fresh session), and the ORM's bulk-update bookkeeping
        # cost about as much CPU as the send itself.
        table = Notification.__table__
        core = (
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == notification_id, table.c.status == SENDING, table.c.claimed_by == worker_id)
            .values(values)
            .returning(table.c.id)
        )
        return (await self._session.execute(core)).first() is not None

    async def mark_sent(
        self, notification_id: int, worker_id: str, at: datetime, telegram_message_id: int | None
    ) -> bool:
        """Delivered. False when ``worker_id`` no longer holds the claim (the result is dropped)."""
        return await self._finish(
            notification_id,
            worker_id,
            {
                "status": SENT,
                "sent_at": at,
                "telegram_message_id": telegram_message_id,
                "attempts": Notification.attempts + 1,
                "claimed_until": None,
                "last_error": None,
                "updated_at": at,
            },
        )

    async def mark_retry(
        self,
        notification_id: int,
        worker_id: str,
        next_attempt_at: datetime,
        error: str,
        count_attempt: bool = True,
    ) -> bool:
        """A transient failure: pending again from ``next_attempt_at``. ``count_attempt=False`` for
        waits that are no fault of the message (Telegram's ``retry_after``, the global pace)."""
        values: dict[str, Any] = {
            "status": PENDING,
            "next_attempt_at": next_attempt_at,
            "last_error": _error(error),
            "claimed_by": None,
            "claimed_until": None,
        }
        if count_attempt:
            values["attempts"] = Notification.attempts + 1
        return await self._finish(notification_id, worker_id, values)

    async def mark_failed(self, notification_id: int, worker_id: str, at: datetime, error: str) -> bool:
        """Given up (a permanent error, or the attempts are exhausted)."""
        return await self._finish(
            notification_id,
            worker_id,
            {
                "status": FAILED,
                "attempts": Notification.attempts + 1,
                "last_error": _error(error),
                "claimed_until": None,
                "updated_at": at,
            },
        )

    async def mark_cancelled(self, notification_id: int, worker_id: str, reason: str) -> bool:
        """Not to be sent after all (the recipient blocked the bot, turned the kind off, the
        appointment is gone); no attempt is counted."""
        return await self._finish(
            notification_id,
            worker_id,
            {"status": CANCELLED, "last_error": _error(reason), "claimed_until": None},
        )

    async def reschedule(self, notification_id: int, worker_id: str, next_attempt_at: datetime) -> bool:
        """Held back (quiet hours): pending again from ``next_attempt_at``, no attempt counted."""
        return await self._finish(
            notification_id,
            worker_id,
            {"status": PENDING, "next_attempt_at": next_attempt_at, "claimed_by": None, "claimed_until": None},
        )

    async def reclaim_expired(self, now: datetime) -> int:
        """Rows whose worker died mid-delivery (lease ran out) go back to pending, due at once.

        The attempt counts: the message may have gone out before the process died (delivery is at
        least once), and a row that kills its worker every time must run out of attempts.
        """
        statement = (
            update(Notification)
            .where(Notification.status == SENDING, Notification.claimed_until < now)
            .values(
                status=PENDING,
                next_attempt_at=now,
                attempts=Notification.attempts + 1,
                last_error=LEASE_EXPIRED,
                claimed_by=None,
                claimed_until=None,
                updated_at=now,
            )
            .returning(Notification.id)
            .execution_options(synchronize_session="fetch")
        )
        return len((await self._session.execute(statement)).all())

    # --- queries and housekeeping ---------------------------------------------------------------

    async def get(self, notification_id: int) -> Notification | None:
        return await self._session.get(Notification, notification_id)

    async def pending_count(self) -> int:
        """Rows waiting (due or not); for health and metrics."""
        count = await self._session.scalar(select(func.count()).select_from(Notification).where(_IS_PENDING))
        return int(count or 0)

    async def counts_for_announcement(self, announcement_id: int) -> dict[str, int]:
        """Rows of the announcement by status; every status present (0 when none)."""
        result = await self._session.execute(
            select(Notification.status, func.count())
            .where(Notification.announcement_id == announcement_id)
            .group_by(Notification.status)
        )
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in result.tuples():
            counts[status] = int(count)
        return counts

    async def cancel_pending_for_chat(self, chat_id: int, reason: str) -> int:
        """Cancel everything still queued for the chat (the doctor blocked the bot); rows being sent
        right now finish on their own. The number cancelled."""
        statement = (
            update(Notification)
            .where(Notification.chat_id == chat_id, _IS_PENDING)
            .values(status=CANCELLED, last_error=_error(reason))
            .returning(Notification.id)
            .execution_options(synchronize_session="fetch")
        )
        return len((await self._session.execute(statement)).all())

    async def purge_finished(self, before: datetime, statuses: Sequence[str] = FINISHED) -> int:
        """Delete rows finished (sent, failed, cancelled) before ``before``: the outbox is a queue,
        not an archive (the audit log keeps what must be kept). The number deleted."""
        unknown = set(statuses) - set(FINISHED)
        if unknown:
            raise ValueError(f"only finished rows may be purged, not {', '.join(sorted(unknown))}")
        statement = (
            delete(Notification)
            .where(Notification.status.in_(list(statuses)), Notification.updated_at < before)
            .returning(Notification.id)
            .execution_options(synchronize_session="fetch")
        )
        return len((await self._session.execute(statement)).all())
