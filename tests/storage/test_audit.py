"""The hash-chained audit log: appends, reads, and tampering of every kind detected."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AuditEvent, canonical_json
from storage.repositories import AuditRepository, event_hash
from storage.repositories.audit import GENESIS_HASH


async def _append_five(session: AsyncSession) -> list[AuditEvent]:
    repo = AuditRepository(session)
    events = [
        await repo.append("tg:7000000001", "start", None, None, "ok"),
        await repo.append("doctor:5", "patient.view", "patient", 17, "ok", {"fields": ["name"], "n": 1}),
        await repo.append("doctor:5", "patient.view", "patient", "18", "denied", {"reason": "idle"}),
        await repo.append("system", "reminder.send", "notification", 3, "failed", {"code": 403}),
        await repo.append("doctor:6", "prescription.sign", "prescription", 9),
    ]
    await session.commit()
    return events


async def test_append_builds_a_chain(session: AsyncSession) -> None:
    events = await _append_five(session)
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in events}) == 5 and all(len(e.hash) == 64 for e in events)
    assert events[1].object_id == "17" and events[1].details == {"fields": ["name"], "n": 1}
    assert events[4].outcome == "ok" and events[4].details == {}
    assert events[0].at.tzinfo == UTC

    result = await AuditRepository(session).verify()
    assert (result.ok, result.checked, result.first_broken_id, result.reason) == (True, 5, None, None)
    assert result.last_hash == events[-1].hash


async def test_empty_chain_is_valid(session: AsyncSession) -> None:
    result = await AuditRepository(session).verify()
    assert result.ok and result.checked == 0 and result.last_hash == GENESIS_HASH


async def test_recent_and_between(session: AsyncSession) -> None:
    await _append_five(session)
    repo = AuditRepository(session)
    assert [e.id for e in await repo.recent(3)] == [5, 4, 3]
    session.expunge_all()
    # Back-date two rows (and re-hash them, so the chain stays valid) to test the time window.
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    await _rewrite(session, 2, at=noon)
    await _rewrite(session, 3, at=noon + timedelta(hours=1))
    await session.commit()
    assert (await repo.verify()).ok
    assert [e.id for e in await repo.between(noon, noon + timedelta(hours=1))] == [2]
    assert [e.id for e in await repo.between(noon, noon + timedelta(hours=2))] == [2, 3]


async def _rewrite(session: AsyncSession, event_id: int, **changes: object) -> None:
    """Change a row and re-hash the rest of the chain, as a careful forger would."""
    ids = (await session.execute(text("SELECT id FROM audit_events ORDER BY id"))).scalars().all()
    prev = GENESIS_HASH
    for eid in ids:
        event = await session.get(AuditEvent, eid)
        assert event is not None
        if eid == event_id:
            for name, value in changes.items():
                setattr(event, name, value)
        event.prev_hash = prev
        event.hash = _rehash(event)
        prev = event.hash
    await session.flush()


def _rehash(event: AuditEvent) -> str:
    return event_hash(
        id=event.id,
        at=event.at,
        actor=event.actor,
        operation=event.operation,
        object_type=event.object_type,
        object_id=event.object_id,
        outcome=event.outcome,
        details=canonical_json(event.details),
        prev_hash=event.prev_hash,
    )


@pytest.mark.parametrize(
    "column, value",
    [
        ("actor", "doctor:6"),
        ("operation", "patient.export"),
        ("object_type", "document"),
        ("object_id", "19"),
        ("outcome", "ok"),
        ("details", '{"reason":"none"}'),
        ("details", '{"reason": "idle"}'),  # even a re-spacing changes what was hashed
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
async def test_edited_row_is_found(session: AsyncSession, column: str, value: object) -> None:
    await _append_five(session)
    if column == "details":
        await session.execute(text("UPDATE audit_events SET details = :v WHERE id = 3"), {"v": value})
    else:
        await session.execute(update(AuditEvent).where(AuditEvent.id == 3).values({column: value}))
    await session.commit()
    result = await AuditRepository(session).verify()
    assert not result.ok and result.first_broken_id == 3, result
    assert result.checked == 3


async def test_deleted_row_is_found(session: AsyncSession) -> None:
    await _append_five(session)
    await session.execute(delete(AuditEvent).where(AuditEvent.id == 2))
    await session.commit()
    result = await AuditRepository(session).verify()
    assert (result.ok, result.first_broken_id) == (False, 3)
    assert "expected row 2" in (result.reason or "")


async def test_deleted_first_row_is_found(session: AsyncSession) -> None:
    await _append_five(session)
    await session.execute(delete(AuditEvent).where(AuditEvent.id == 1))
    await session.commit()
    assert (await AuditRepository(session).verify()).first_broken_id == 2


async def test_deleted_and_renumbered_rows_are_found(session: AsyncSession) -> None:
    await _append_five(session)
    await session.execute(delete(AuditEvent).where(AuditEvent.id == 2))
    for eid in (3, 4, 5):  # close the gap
        await session.execute(update(AuditEvent).where(AuditEvent.id == eid).values(id=eid - 1))
    await session.commit()
    result = await AuditRepository(session).verify()
    assert (result.ok, result.first_broken_id) == (False, 2)


async def test_reordered_rows_are_found(session: AsyncSession) -> None:
    events = await _append_five(session)
    # Swap rows 2 and 3 whole (every column but the id).
    columns = ["at", "actor", "operation", "object_type", "object_id", "outcome", "details", "prev_hash", "hash"]
    two = {c: getattr(events[1], c) for c in columns}
    three = {c: getattr(events[2], c) for c in columns}
    await session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == 2)
        .values(hash="tmp", **{k: v for k, v in three.items() if k != "hash"})
    )
    await session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(two))
    await session.execute(update(AuditEvent).where(AuditEvent.id == 2).values(hash=three["hash"]))
    await session.commit()
    result = await AuditRepository(session).verify()
    assert (result.ok, result.first_broken_id) == (False, 2)


async def test_inserted_row_is_found(session: AsyncSession) -> None:
    await _append_five(session)
    # A forged row 3 that is perfectly chained to row 2: the real row 4 no longer follows it.
    await session.execute(delete(AuditEvent).where(AuditEvent.id == 3))
    await session.flush()
    row2 = await session.get(AuditEvent, 2)
    assert row2 is not None
    forged = AuditEvent(
        id=3,
        at=datetime.now(UTC),
        actor="doctor:5",
        operation="patient.view",
        object_type="patient",
        object_id="18",
        outcome="ok",
        details={},
        prev_hash=row2.hash,
        hash="",
    )
    forged.hash = _rehash(forged)
    session.add(forged)
    await session.commit()
    result = await AuditRepository(session).verify()
    assert (result.ok, result.first_broken_id) == (False, 4)


async def test_row_inserted_before_the_chain_is_found(session: AsyncSession) -> None:
    await _append_five(session)
    forged = AuditEvent(
        id=0,
        at=datetime.now(UTC),
        actor="x",
        operation="y",
        object_type=None,
        object_id=None,
        outcome="ok",
        details={},
        prev_hash=GENESIS_HASH,
        hash="",
    )
    forged.hash = _rehash(forged)
    session.add(forged)
    await session.commit()
    assert (await AuditRepository(session).verify()).first_broken_id == 0


async def test_verify_in_small_batches(session: AsyncSession) -> None:
    await _append_five(session)
    assert (await AuditRepository(session).verify(batch_size=2)).checked == 5
    await session.execute(update(AuditEvent).where(AuditEvent.id == 5).values(actor="x"))
    await session.commit()
    assert (await AuditRepository(session).verify(batch_size=2)).first_broken_id == 5


async def test_bad_input_is_refused(session: AsyncSession) -> None:
    repo = AuditRepository(session)
    with pytest.raises(ValueError, match="outcome"):
        await repo.append("system", "x", None, None, "maybe")
    with pytest.raises(TypeError):
        await repo.append("system", "x", None, None, "ok", {"when": datetime.now(UTC)})
    assert await repo.recent() == []


async def test_rolled_back_append_leaves_no_gap(session_maker: async_sessionmaker[AsyncSession]) -> None:
    async with session_maker() as session:
        await AuditRepository(session).append("system", "a", None, None)
        await session.rollback()
    async with session_maker() as session:
        repo = AuditRepository(session)
        assert (await repo.append("system", "b", None, None)).id == 1
        await session.commit()
        assert (await repo.verify()).ok


async def test_concurrent_appends_keep_one_chain(session_maker: async_sessionmaker[AsyncSession]) -> None:
    writers, per_writer = 8, 5

    async def writer(n: int) -> None:
        for i in range(per_writer):
            async with session_maker() as session:
                await AuditRepository(session).append(f"doctor:{n}", "patient.view", "patient", i)
                await asyncio.sleep(0)  # let the others try to append while the lock is held
                await session.commit()

    await asyncio.gather(*(writer(n) for n in range(writers)))
    async with session_maker() as session:
        result = await AuditRepository(session).verify()
    assert result.ok and result.checked == writers * per_writer, result
