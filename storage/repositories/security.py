"""A doctor's PIN hash, failed attempts and lock, and the idle-timeout anchor.

Every change is one INSERT … ON CONFLICT DO UPDATE … RETURNING on the row: counters move in the
database, never read-modify-written from Python, so concurrent attempts are all counted, and the
session's copy of the row is refreshed from what the statement returned.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import upsert_insert
from storage.models import DoctorSecurity, UTCDateTime
from storage.repositories._query import one_or_none


class PinFailure(NamedTuple):
    failed_attempts: int  # failures counted now; 0 when this failure started a lock (the counter resets)
    locked_until: datetime | None  # the lock in force after this failure, if any


def _check_limits(max_attempts: int, lock_for: timedelta) -> None:
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if lock_for <= timedelta(0):
        raise ValueError("lock_for must be positive")


class SecurityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, doctor_id: int) -> DoctorSecurity | None:
        """The row as the database has it now (the session's copy is refreshed: a lock set by
        another transaction must not be missed)."""
        return await one_or_none(
            self._session,
            select(DoctorSecurity)
            .where(DoctorSecurity.doctor_id == doctor_id)
            .execution_options(populate_existing=True),
        )

    async def _upsert(
        self, doctor_id: int, at: datetime, values: dict[str, Any], on_conflict: dict[str, Any]
    ) -> DoctorSecurity:
        insert = upsert_insert(self._session, DoctorSecurity).values(doctor_id=doctor_id, updated_at=at, **values)
        statement = insert.on_conflict_do_update(
            index_elements=[DoctorSecurity.doctor_id], set_={"updated_at": at, **on_conflict}
        ).returning(DoctorSecurity)
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one()

    async def get_or_create(self, doctor_id: int) -> DoctorSecurity:
        """The row, created empty (no PIN) if missing; a concurrent creation is not an error."""
        security = await self.get(doctor_id)
        if security is not None:
            return security
        insert = upsert_insert(self._session, DoctorSecurity).values(doctor_id=doctor_id)
        await self._session.execute(insert.on_conflict_do_nothing(index_elements=[DoctorSecurity.doctor_id]))
        created = await self.get(doctor_id)
        assert created is not None  # inserted just now, or by the concurrent creator
        return created

    async def set_pin_hash(self, doctor_id: int, pin_hash: str, at: datetime) -> DoctorSecurity:
        """Store a new PIN hash; failures and any lock are cleared (the idle anchor is left alone)."""
        values = {"pin_hash": pin_hash, "pin_set_at": at, "failed_attempts": 0, "locked_until": None}
        return await self._upsert(doctor_id, at, values, values)

    async def record_failure(self, doctor_id: int, at: datetime, max_attempts: int, lock_for: timedelta) -> PinFailure:
        """Count a wrong PIN, atomically. The failure that reaches ``max_attempts`` locks the PIN
        until ``at + lock_for`` and resets the counter to 0."""
        _check_limits(max_attempts, lock_for)
        until = literal(at + lock_for, UTCDateTime())
        counted = DoctorSecurity.failed_attempts + 1
        reaches = counted >= max_attempts
        first_locks = max_attempts == 1
        security = await self._upsert(
            doctor_id,
            at,
            {"failed_attempts": 0 if first_locks else 1, "locked_until": at + lock_for if first_locks else None},
            {
                "failed_attempts": case((reaches, 0), else_=counted),
                "locked_until": case((reaches, until), else_=DoctorSecurity.locked_until),
            },
        )
        locked_until = security.locked_until
        return PinFailure(
            security.failed_attempts, locked_until if locked_until is not None and locked_until > at else None
        )

    async def record_success(self, doctor_id: int, at: datetime) -> DoctorSecurity:
        """The right PIN: failures and lock cleared, ``last_verified_at`` set to ``at``."""
        values = {"failed_attempts": 0, "locked_until": None, "last_verified_at": at}
        return await self._upsert(doctor_id, at, values, values)

    async def touch(self, doctor_id: int, at: datetime) -> DoctorSecurity | None:
        """Move the idle anchor (``last_verified_at``) to ``at``; None when the doctor has no row."""
        statement = (
            update(DoctorSecurity)
            .where(DoctorSecurity.doctor_id == doctor_id)
            .values(last_verified_at=at, updated_at=at)
            .returning(DoctorSecurity)
        )
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one_or_none()

    async def clear(self, doctor_id: int) -> bool:
        """Forget the PIN, failures, lock and idle anchor (the row goes); True when there was one."""
        deleted = await self._session.scalars(
            delete(DoctorSecurity).where(DoctorSecurity.doctor_id == doctor_id).returning(DoctorSecurity.doctor_id)
        )
        return deleted.first() is not None
