"""Reads audited in batches (``AuditBuffer``), on SQLite and PostgreSQL: every record arrives, in
order, with the time of the read, on an intact chain; nothing is lost when the database fails
for a while or when the bot stops."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.audit import AuditBuffer, AuditService
from services.uow import UnitOfWork
from storage.db import create_engine, make_session_maker
from storage.models import AuditEvent
from storage.repositories import AuditRepository


async def rows(session_maker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None, datetime]]:
    async with session_maker() as session:
        result = await session.execute(select(AuditEvent.operation, AuditEvent.object_id, AuditEvent.at).order_by(AuditEvent.id))
        return [(r[0], r[1], r[2]) for r in result]


async def test_records_wait_then_arrive_together_in_order_on_a_valid_chain(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    buffer = AuditBuffer(session_maker, delay=0.05)
    for day in ("2026-12-10", "2026-12-11", "2026-12-12"):
        buffer.add("doctor:1", "schedule_view", "day", day, appointments=3)
        await asyncio.sleep(0.001)
    # A change recorded in its own transaction meanwhile: the chain stays one chain.
    async with UnitOfWork(session_maker) as uow:
        await AuditService(uow).record("doctor:1", "appointment_status", "appointment", 7)
        await uow.commit()
    assert buffer.pending == 3
    await asyncio.sleep(0.3)  # the timer fires
    assert buffer.pending == 0
    written = await rows(session_maker)
    assert [r[:2] for r in written] == [
        ("appointment_status", "7"),
        ("schedule_view", "2026-12-10"),
        ("schedule_view", "2026-12-11"),
        ("schedule_view", "2026-12-12"),
    ]
    views = [r[2] for r in written[1:]]
    assert views == sorted(views) and views[-1] - views[0] < timedelta(seconds=1)  # when the reads happened
    async with session_maker() as session:
        assert (await AuditRepository(session).verify()).ok
    await buffer.close()


async def test_a_full_buffer_is_written_without_waiting(session_maker: async_sessionmaker[AsyncSession]) -> None:
    buffer = AuditBuffer(session_maker, delay=3600, max_pending=5)
    for i in range(5):
        buffer.add("doctor:1", "schedule_view", "day", str(i))
    await asyncio.sleep(0.2)
    assert buffer.pending == 0 and len(await rows(session_maker)) == 5
    await buffer.close()


async def test_closing_writes_what_waits(session_maker: async_sessionmaker[AsyncSession]) -> None:
    buffer = AuditBuffer(session_maker, delay=3600)
    buffer.add("doctor:1", "schedule_view", "day", "2026-12-10")
    await buffer.close()
    assert [r[:2] for r in await rows(session_maker)] == [("schedule_view", "2026-12-10")]


async def test_bad_records_are_refused_when_added(session_maker: async_sessionmaker[AsyncSession]) -> None:
    buffer = AuditBuffer(session_maker)
    with pytest.raises(ValueError, match="outcome"):
        buffer.add("doctor:1", "schedule_view", "day", "x", outcome="maybe")
    with pytest.raises(TypeError):
        buffer.add("doctor:1", "schedule_view", "day", "x", when=datetime.now())
    assert buffer.pending == 0
    await buffer.close()


async def test_a_database_failure_keeps_the_records_for_the_next_attempt(
    tmp_path: Path, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    # A database without the audit table: every write fails until it is the right one again.
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    buffer = AuditBuffer(make_session_maker(broken), delay=3600)
    buffer.add("doctor:1", "schedule_view", "day", "2026-12-10")
    buffer.add("doctor:1", "schedule_view", "day", "2026-12-11")
    assert await buffer.flush() == 0
    assert buffer.pending == 2
    buffer._session_maker = session_maker  # the database is back
    assert await buffer.flush() == 2
    assert [r[1] for r in await rows(session_maker)] == ["2026-12-10", "2026-12-11"]
    await buffer.close()
    await broken.dispose()
