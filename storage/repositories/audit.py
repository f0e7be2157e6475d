"""The audit log: append-only rows chained by SHA-256, and the check that the chain is intact.

Each row's hash covers every field of the row and the previous row's hash, so editing, deleting,
inserting or reordering rows breaks the chain from that row on. (Removing rows at the very end
leaves a shorter valid chain: keep the reported ``last_hash`` somewhere else to detect that.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, select, text, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import dialect_name
from storage.models import OUTCOMES, AuditEvent, canonical_json, utcnow

GENESIS_HASH = "0" * 64
HASH_VERSION = 1
# Any fixed 64-bit number, the same in every process: the lock that orders appends on PostgreSQL.
_PG_LOCK_KEY = 0x6D656463_61756474  # "medcaudt"


def event_hash(
    *,
    id: int,
    at: datetime,
    actor: str,
    operation: str,
    object_type: str | None,
    object_id: str | None,
    outcome: str,
    details: str,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the row's canonical serialization; ``details`` as stored (canonical JSON text)."""
    payload = canonical_json(
        {
            "v": HASH_VERSION,
            "id": id,
            # Microseconds, UTC: what both databases store, so the value reads back identically.
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "operation": operation,
            "object_type": object_type,
            "object_id": object_id,
            "outcome": outcome,
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainVerification:
    ok: bool
    checked: int  # rows read
    first_broken_id: int | None
    reason: str | None
    last_hash: str  # hash of the last good row: record it elsewhere to detect truncation later


@dataclass(frozen=True, slots=True)
class NewAuditEvent:
    """A row to append; ``at`` None: the time of the append."""

    actor: str
    operation: str
    object_type: str | None
    object_id: str | int | None = None
    outcome: str = "ok"
    details: Mapping[str, Any] | None = None
    at: datetime | None = None


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _lock_chain(self) -> None:
        """Serialize appends until the transaction ends, so two appends never share a predecessor."""
        if dialect_name(self._session) == "postgresql":
            await self._session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        else:
            # SQLite has one writer at a time, but a deferred transaction takes the write lock only
            # at its first write; a no-op write takes it now, before the last hash is read.
            await self._session.execute(text("UPDATE audit_events SET id = id WHERE 1 = 0"))

    async def append(
        self,
        actor: str,
        operation: str,
        object_type: str | None,
        object_id: str | int | None,
        outcome: str = "ok",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Add the next row of the chain (flushed; the caller commits). ``details`` carries ids and
        codes only, never patient data: the log is not encrypted."""
        [event] = await self.append_many([NewAuditEvent(actor, operation, object_type, object_id, outcome, details)])
        return event

    async def append_many(self, events: Sequence[NewAuditEvent]) -> list[AuditEvent]:
        """Add ``events`` as the next rows of the chain, in order, under one lock (flushed; the
        caller commits): a batch costs one lock and one read of the last hash."""
        for new in events:
            if new.outcome not in OUTCOMES:
                raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        await self._lock_chain()
        last = (
            await self._session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        ).first()
        event_id, prev_hash = (last.id, last.hash) if last is not None else (0, GENESIS_HASH)
        now = utcnow()
        rows = []
        for new in events:
            event_id += 1
            details_dict = dict(new.details or {})
            details_text = canonical_json(details_dict)  # TypeError for anything not JSON
            object_id_text = None if new.object_id is None else str(new.object_id)
            fields: dict[str, Any] = {
                "id": event_id,
                "at": new.at or now,
                "actor": new.actor,
                "operation": new.operation,
                "object_type": new.object_type,
                "object_id": object_id_text,
                "outcome": new.outcome,
                "prev_hash": prev_hash,
            }
            row = AuditEvent(**fields, details=details_dict, hash=event_hash(**fields, details=details_text))
            prev_hash = row.hash
            rows.append(row)
        self._session.add_all(rows)
        await self._session.flush()
        return rows

    async def recent(self, limit: int = 50) -> Sequence[AuditEvent]:
        """The newest events, newest first."""
        return (await self._session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))).all()

    async def between(self, start: datetime, end: datetime) -> Sequence[AuditEvent]:
        """Events with ``start <= at < end``, in chain order."""
        return (
            await self._session.scalars(
                select(AuditEvent).where(AuditEvent.at >= start, AuditEvent.at < end).order_by(AuditEvent.id)
            )
        ).all()

    async def verify(self, batch_size: int = 1000) -> ChainVerification:
        """Walk the whole chain in id order (in batches, the log can be long)."""
        columns = (
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.operation,
            AuditEvent.object_type,
            AuditEvent.object_id,
            AuditEvent.outcome,
            # The stored text itself, not the parsed JSON: what was hashed, and no crash on garbage.
            type_coerce(AuditEvent.details, Text).label("details"),
            AuditEvent.prev_hash,
            AuditEvent.hash,
        )
        checked, expected_id, prev_hash = 0, 1, GENESIS_HASH
        after: int | None = None  # the first batch is unfiltered: a forged row with id < 1 shows too
        while True:
            query = select(*columns).order_by(AuditEvent.id).limit(batch_size)
            if after is not None:
                query = query.where(AuditEvent.id > after)
            rows = (await self._session.execute(query)).all()
            if not rows:
                return ChainVerification(True, checked, None, None, prev_hash)
            for row in rows:
                checked += 1
                reason = None
                if row.id != expected_id:
                    reason = f"expected row {expected_id} here (rows deleted or renumbered)"
                elif row.prev_hash != prev_hash:
                    reason = "does not follow the previous row (rows deleted, inserted or reordered)"
                elif row.hash != event_hash(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    operation=row.operation,
                    object_type=row.object_type,
                    object_id=row.object_id,
                    outcome=row.outcome,
                    details=row.details,
                    prev_hash=row.prev_hash,
                ):
                    reason = "contents changed after it was written"
                if reason is not None:
                    return ChainVerification(False, checked, row.id, reason, prev_hash)
                expected_id, prev_hash, after = row.id + 1, row.hash, row.id
