"""The notification outbox, notification preferences, announcements and unreachable accounts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import ClauseElement, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

from storage.db import create_engine, make_session_maker
from storage.models import (
    PERSONAL_DATA,
    STATUSES,
    Announcement,
    Notification,
    NotificationPreferences,
    Role,
    TelegramAccount,
)
from storage.repositories import (
    AnnouncementNotFound,
    AnnouncementRepository,
    ClinicRepository,
    ClinicRoleRepository,
    ConsentRepository,
    DoctorProfileRepository,
    DoctorRepository,
    InvalidTimezone,
    NotificationPreferencesRepository,
    OutboxItem,
    OutboxRepository,
    PositionData,
    TelegramAccountRepository,
    specialty_key,
)

NOW = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
CLAIM_INDEX = "ix_notifications_pending_next_attempt_at"


def _at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def _doctor(session: AsyncSession, last_name: str = "Петрова", specialty: str | None = None) -> int:
    return (await DoctorRepository(session).add(last_name=last_name, first_name="Анна", specialty=specialty)).id


async def _rows(session: AsyncSession) -> list[Notification]:
    session.expunge_all()
    return list((await session.scalars(select(Notification).order_by(Notification.id))).all())


# --- enqueue ------------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_by_dedup_key(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    doctor_id = await _doctor(session)
    payload = {"msg": "reminder", "slot": 5}
    first = await outbox.enqueue(
        7_000_000_001, "appointment_reminder", "reminder:1", _at(60), payload=payload, doctor_id=doctor_id
    )
    assert first is not None
    assert await outbox.enqueue(7_000_000_001, "appointment_reminder", "reminder:1", _at(120)) is None
    second = await outbox.enqueue(42, "test", "test:1", NOW, urgency="urgent")
    await session.commit()
    assert second is not None and second != first

    rows = await _rows(session)
    assert [(r.id, r.dedup_key, r.due_at) for r in rows] == [(first, "reminder:1", _at(60)), (second, "test:1", NOW)]
    row = rows[0]
    assert (row.chat_id, row.doctor_id, row.kind, row.urgency, row.status, row.attempts) == (
        7_000_000_001,
        doctor_id,
        "appointment_reminder",
        "routine",
        "pending",
        0,
    )
    assert row.payload == {"msg": "reminder", "slot": 5} and rows[1].payload == {}
    assert row.next_attempt_at == row.due_at and row.claimed_by is None and row.claimed_until is None
    assert row.created_at.tzinfo is not None
    assert await outbox.pending_count() == 2
    # A row already sent still blocks its key: a scan run again never sends a reminder twice.
    [claimed] = await outbox.claim_due(NOW, 10, "w1", LEASE)
    assert await outbox.mark_sent(claimed.id, "w1", NOW, 1)
    assert await outbox.enqueue(42, "test", "test:1", NOW) is None
    with pytest.raises(ValueError, match="urgency"):
        await outbox.enqueue(42, "test", "test:2", NOW, urgency="high")


async def test_enqueue_many_in_chunks(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    assert await outbox.enqueue(1, "announcement", "a:1:1", NOW) is not None
    items: list[OutboxItem | dict[str, Any]] = [
        OutboxItem(chat_id, "announcement", f"a:1:{chat_id}", NOW, payload={"n": chat_id}) for chat_id in range(1, 1201)
    ]
    items.append(OutboxItem(5, "announcement", "a:1:5", NOW))  # repeated within the batch
    items.append({"chat_id": 9999, "kind": "announcement", "dedup_key": "a:1:9999", "due_at": NOW, "urgency": "urgent"})
    assert await outbox.enqueue_many(items) == 1200  # 1199 new + the mapping; a:1:1 and the repeat skipped
    assert await outbox.enqueue_many([]) == 0
    await session.commit()
    assert await outbox.pending_count() == 1201
    row = (await session.scalars(select(Notification).where(Notification.dedup_key == "a:1:700"))).one()
    assert (row.chat_id, row.payload, row.next_attempt_at) == (700, {"n": 700}, NOW)
    urgent = (await session.scalars(select(Notification).where(Notification.chat_id == 9999))).one()
    assert urgent.urgency == "urgent"


# --- claiming -----------------------------------------------------------------------------------


async def test_claim_takes_due_rows_urgent_first_up_to_the_limit(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    ids = {}
    for key, due, urgency in [
        ("routine-old", _at(-300), "routine"),
        ("routine-older", _at(-600), "routine"),
        ("urgent-new", _at(-10), "urgent"),
        ("routine-same-time", _at(-300), "routine"),
        ("urgent-old", _at(-100), "urgent"),
        ("future-urgent", _at(10), "urgent"),
    ]:
        ids[key] = await outbox.enqueue(1, "test", key, due, urgency=urgency)
    await session.commit()

    first = await outbox.claim_due(NOW, 3, "w1", LEASE)
    assert [n.id for n in first] == [ids["urgent-old"], ids["urgent-new"], ids["routine-older"]]
    assert {(n.status, n.claimed_by, n.claimed_until) for n in first} == {("sending", "w1", NOW + LEASE)}
    await session.commit()
    second = await outbox.claim_due(NOW, 10, "w2", LEASE)
    # Same next_attempt_at: by id.
    assert [n.id for n in second] == [ids["routine-old"], ids["routine-same-time"]]
    await session.commit()
    assert await outbox.claim_due(NOW, 10, "w3", LEASE) == []  # the rest is not due yet
    assert await outbox.claim_due(NOW, 0, "w3", LEASE) == []
    assert [n.id for n in await outbox.claim_due(_at(10), 10, "w3", LEASE)] == [ids["future-urgent"]]
    await session.commit()

    rows = {r.id: r for r in await _rows(session)}
    assert all(r.status == "sending" and r.attempts == 0 for r in rows.values())
    assert Counter(r.claimed_by for r in rows.values()) == {"w1": 3, "w2": 2, "w3": 1}
    assert await outbox.pending_count() == 0
    with pytest.raises(ValueError, match="lease"):
        await outbox.claim_due(NOW, 1, "w1", timedelta(0))
    with pytest.raises(ValueError, match="worker_id"):
        await outbox.claim_due(NOW, 1, "", LEASE)


async def test_a_claimed_row_stays_claimed_until_its_lease_runs_out(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    row_id = await outbox.enqueue(1, "test", "k", NOW)
    assert row_id is not None
    assert [n.id for n in await outbox.claim_due(NOW, 10, "w1", LEASE)] == [row_id]
    await session.commit()

    assert await outbox.claim_due(_at(30), 10, "w2", LEASE) == []
    assert await outbox.claim_due(_at(600), 10, "w2", LEASE) == []  # expired, but not reclaimed yet
    assert await outbox.reclaim_expired(_at(59)) == 0
    assert await outbox.reclaim_expired(_at(61)) == 1
    await session.commit()
    row = (await _rows(session))[0]
    # Back to pending, due at once; the attempt counts (it may have gone out before the crash).
    assert (row.status, row.claimed_by, row.claimed_until, row.next_attempt_at, row.attempts, row.last_error) == (
        "pending",
        None,
        None,
        _at(61),
        1,
        "lease expired",
    )

    [taken] = await outbox.claim_due(_at(61), 10, "w2", LEASE)
    await session.commit()
    # The first worker wakes up: its result is dropped, the second worker's stands.
    assert not await outbox.mark_sent(row_id, "w1", _at(62), 100)
    assert await outbox.mark_sent(row_id, "w2", _at(63), 200)
    await session.commit()
    assert taken.status == "sent"  # the returned object follows the marks in this session
    row = (await _rows(session))[0]
    assert (row.status, row.claimed_by, row.sent_at, row.telegram_message_id, row.attempts) == (
        "sent",
        "w2",
        _at(63),
        200,
        2,
    )
    assert await outbox.reclaim_expired(_at(10_000)) == 0


async def _claimed(outbox: OutboxRepository, session: AsyncSession, keys: list[str]) -> dict[str, int]:
    ids = {key: await outbox.enqueue(1, "test", key, NOW) for key in keys}
    await outbox.claim_due(NOW, len(keys), "w1", LEASE)
    await session.commit()
    return {key: row_id for key, row_id in ids.items() if row_id is not None}


async def test_only_the_claiming_worker_records_an_outcome(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    ids = await _claimed(outbox, session, ["sent", "retry", "wait", "failed", "cancelled", "quiet"])
    marks: dict[str, Callable[[str], Awaitable[bool]]] = {
        "sent": lambda w: outbox.mark_sent(ids["sent"], w, _at(1), 555),
        "retry": lambda w: outbox.mark_retry(ids["retry"], w, _at(30), "500 Internal Server Error"),
        "wait": lambda w: outbox.mark_retry(ids["wait"], w, _at(5), "429 retry after 5", count_attempt=False),
        "failed": lambda w: outbox.mark_failed(ids["failed"], w, _at(2), "400 Bad Request: chat not found"),
        "cancelled": lambda w: outbox.mark_cancelled(ids["cancelled"], w, "kind disabled"),
        "quiet": lambda w: outbox.reschedule(ids["quiet"], w, _at(3600)),
    }
    for mark in marks.values():
        assert not await mark("w2")  # not the claiming worker
    await session.commit()
    assert {r.status for r in await _rows(session)} == {"sending"}

    for mark in marks.values():
        assert await mark("w1")
    await session.commit()
    for mark in marks.values():
        assert not await mark("w1")  # no longer in ``sending``: nothing to record twice

    rows = {r.dedup_key: r for r in await _rows(session)}
    summary = {
        key: (r.status, r.attempts, r.next_attempt_at, r.claimed_by, r.claimed_until, r.last_error)
        for key, r in rows.items()
    }
    assert summary == {
        "sent": ("sent", 1, NOW, "w1", None, None),
        "retry": ("pending", 1, _at(30), None, None, "500 Internal Server Error"),
        "wait": ("pending", 0, _at(5), None, None, "429 retry after 5"),
        "failed": ("failed", 1, NOW, "w1", None, "400 Bad Request: chat not found"),
        "cancelled": ("cancelled", 0, NOW, "w1", None, "kind disabled"),
        "quiet": ("pending", 0, _at(3600), None, None, None),
    }
    assert (rows["sent"].sent_at, rows["sent"].telegram_message_id) == (_at(1), 555)
    assert rows["failed"].updated_at == _at(2)

    # Pending again: claimed when due, in order.
    assert [n.dedup_key for n in await outbox.claim_due(_at(30), 10, "w3", LEASE)] == ["wait", "retry"]
    await session.commit()
    assert [n.dedup_key for n in await outbox.claim_due(_at(3600), 10, "w3", LEASE)] == ["quiet"]


async def test_long_errors_are_cut_to_fit(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    ids = await _claimed(outbox, session, ["a"])
    assert await outbox.mark_retry(ids["a"], "w1", _at(1), "x" * 1000)
    await session.commit()
    error = (await _rows(session))[0].last_error
    assert error is not None and len(error) == 300 and error.endswith("…")


async def test_counts_cancel_for_chat_and_purge(session: AsyncSession) -> None:
    outbox = OutboxRepository(session)
    announcements = AnnouncementRepository(session)
    announcement = await announcements.add(None, "Собрание в 15:00", None, None, 5)
    other = await announcements.add(None, "Другое", None, None, 1)
    assert (
        await outbox.enqueue_many(
            [
                OutboxItem(chat, "announcement", f"a:{chat}", NOW, announcement_id=announcement.id)
                for chat in range(1, 6)
            ]
        )
        == 5
    )
    await outbox.enqueue(9, "announcement", "b:9", NOW, announcement_id=other.id)
    await outbox.enqueue(3, "appointment_reminder", "r:3", _at(3600))
    await session.commit()
    empty = dict.fromkeys(STATUSES, 0)
    assert await outbox.counts_for_announcement(announcement.id) == {**empty, "pending": 5}

    claimed = {n.chat_id: n.id for n in await outbox.claim_due(NOW, 3, "w1", LEASE)}
    assert set(claimed) == {1, 2, 3}  # same time and urgency: by id
    assert await outbox.mark_sent(claimed[1], "w1", NOW, 1)
    assert await outbox.mark_failed(claimed[2], "w1", NOW, "403 Forbidden: bot was blocked by the user")
    await session.commit()
    assert await outbox.counts_for_announcement(announcement.id) == {
        **empty,
        "pending": 2,
        "sending": 1,
        "sent": 1,
        "failed": 1,
    }
    assert await outbox.counts_for_announcement(10_000) == empty

    # The doctor in chat 3 blocked the bot: what is queued for them goes, whatever is in flight stays.
    pending_for_3 = [n for n in await _rows(session) if n.chat_id == 3 and n.status == "pending"]
    assert await outbox.cancel_pending_for_chat(3, "blocked") == len(pending_for_3)
    await session.commit()
    assert all(n.status != "pending" for n in await _rows(session) if n.chat_id == 3)
    assert await outbox.cancel_pending_for_chat(3, "blocked") == 0

    finished = [n for n in await _rows(session) if n.status in ("sent", "failed", "cancelled")]
    assert len(finished) == 3
    oldest, newest = min(n.updated_at for n in finished), max(n.updated_at for n in finished)
    assert await outbox.purge_finished(oldest) == 0
    assert await outbox.purge_finished(newest + timedelta(seconds=1)) == 3
    await session.commit()
    assert Counter(n.status for n in await _rows(session)) == {"pending": 3, "sending": 1}
    with pytest.raises(ValueError, match="finished"):
        await outbox.purge_finished(NOW, ["pending"])


async def test_status_and_urgency_are_checked_by_the_database(session: AsyncSession) -> None:
    row_id = await OutboxRepository(session).enqueue(1, "test", "k", NOW)
    await session.commit()
    with pytest.raises(IntegrityError):
        await session.execute(text("UPDATE notifications SET status = 'lost' WHERE id = :id"), {"id": row_id})
    await session.rollback()
    with pytest.raises(IntegrityError):
        await session.execute(text("UPDATE notifications SET urgency = 'high' WHERE id = :id"), {"id": row_id})
    await session.rollback()


# --- several workers at once --------------------------------------------------------------------


async def test_concurrent_claims_never_take_the_same_row(
    session: AsyncSession, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """Four workers, each its own session and transactions, drain 1,000 rows together."""
    total = 1000
    await OutboxRepository(session).enqueue_many(
        OutboxItem(i, "test", f"c:{i}", _at(-(i % 97)), urgency="urgent" if i % 10 == 0 else "routine")
        for i in range(total)
    )
    await session.commit()
    start = asyncio.Event()

    async def worker(name: str) -> list[int]:
        taken: list[int] = []
        await start.wait()
        while True:
            async with session_maker() as own:
                rows = await OutboxRepository(own).claim_due(NOW, 25, name, LEASE)
                # Hold the claim a moment before committing, so the others claim meanwhile.
                await asyncio.sleep(0.002)
                await own.commit()
            if not rows:
                return taken
            taken += [n.id for n in rows]

    tasks = [asyncio.create_task(worker(f"w{i}")) for i in range(4)]
    start.set()
    results = await asyncio.gather(*tasks)
    everything = [row_id for taken in results for row_id in taken]
    assert len(everything) == len(set(everything)) == total  # none twice, none lost
    assert sum(1 for taken in results if taken) >= 2  # they really did share the work
    rows = await _rows(session)
    assert {r.status for r in rows} == {"sending"}
    by_worker = Counter(r.claimed_by for r in rows)
    assert {f"w{i}": len(taken) for i, taken in enumerate(results) if taken} == dict(by_worker)


async def test_postgres_claims_skip_locked_rows_instead_of_waiting(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    session_maker = make_session_maker(engine)
    try:
        async with session_maker() as setup:
            await OutboxRepository(setup).enqueue_many(OutboxItem(i, "test", f"s:{i}", NOW) for i in range(30))
            await setup.commit()
        async with session_maker() as first, session_maker() as second:
            held = await OutboxRepository(first).claim_due(NOW, 10, "w1", LEASE)  # uncommitted: rows locked
            async with asyncio.timeout(5):  # without SKIP LOCKED this would wait for ``first``
                meanwhile = await OutboxRepository(second).claim_due(NOW, 30, "w2", LEASE)
            assert len(held) == 10 and len(meanwhile) == 20
            assert not {n.id for n in held} & {n.id for n in meanwhile}
            await second.commit()
            await first.rollback()  # the first worker died before committing: its rows are free at once
        async with session_maker() as third:
            assert len(await OutboxRepository(third).claim_due(NOW, 30, "w3", LEASE)) == 10
    finally:
        await engine.dispose()


# --- the query plan -----------------------------------------------------------------------------


def _as_sent(connection: AsyncConnection, statement: ClauseElement) -> tuple[str, tuple[Any, ...]]:
    """The SQL and the bound values exactly as SQLAlchemy sends them for this statement."""
    compiled = cast(SQLCompiler, statement.compile(dialect=connection.dialect))
    params = compiled.construct_params()
    values = []
    for name in compiled.positiontup or ():
        processor = compiled._bind_processors.get(name)
        values.append(processor(params[name]) if callable(processor) else params[name])
    return str(compiled), tuple(values)


async def _plan(session: AsyncSession, statement: ClauseElement) -> str:
    connection = await session.connection()
    sql, values = _as_sent(connection, statement)
    prefix = "EXPLAIN" if connection.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    rows = (await connection.exec_driver_sql(f"{prefix} {sql}", values)).all()
    return "\n".join(" ".join(str(value) for value in row) for row in rows)


def _sql_literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def _generic_plan(session: AsyncSession, statement: ClauseElement) -> str:
    """PostgreSQL: the plan a prepared statement gets once it is planned without its values (asyncpg
    prepares and caches statements; after five runs PostgreSQL may switch to such a plan)."""
    connection = await session.connection()
    sql, values = _as_sent(connection, statement)
    await connection.exec_driver_sql(f"PREPARE medcab_claim AS {sql}")
    try:
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        arguments = ", ".join(_sql_literal(value) for value in values)
        rows = (await connection.exec_driver_sql(f"EXPLAIN EXECUTE medcab_claim({arguments})")).all()
    finally:
        await connection.exec_driver_sql("DEALLOCATE medcab_claim")
    return "\n".join(row[0] for row in rows)


async def test_the_claim_uses_the_partial_index(session: AsyncSession) -> None:
    """Many rows due later (PostgreSQL: 200,000, and 50,000 already sent; SQLite: 20,000): the claim
    reads the partial index, never the whole table (on PostgreSQL also in a generic plan, which
    prepared statements may end up with)."""
    outbox = OutboxRepository(session)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text(
                "INSERT INTO notifications (chat_id, kind, urgency, payload, dedup_key, due_at, status, attempts, "
                "next_attempt_at, created_at, updated_at) "
                "SELECT g, 'test', CASE WHEN g % 10 = 0 THEN 'urgent' ELSE 'routine' END, '{}', 'p:' || g, "
                "t, 'pending', 0, t, now(), now() "
                "FROM generate_series(1, 200000) AS g, "
                "LATERAL (SELECT CAST(:now AS timestamptz) + g * interval '1 second' AS t) AS d"
            ),
            {"now": _at(60)},
        )
        await session.execute(
            text(
                "INSERT INTO notifications (chat_id, kind, urgency, payload, dedup_key, due_at, status, attempts, "
                "next_attempt_at, created_at, updated_at) "
                "SELECT g, 'test', 'routine', '{}', 's:' || g, :now, 'sent', 1, :now, now(), now() "
                "FROM generate_series(1, 50000) AS g"
            ),
            {"now": _at(-3600)},
        )
        await session.commit()
        await session.execute(text("ANALYZE notifications"))
    else:
        await outbox.enqueue_many(OutboxItem(i, "test", f"p:{i}", _at(60 + i)) for i in range(20_000))
        await session.commit()
        await session.execute(text("ANALYZE"))
    await outbox.enqueue(1, "test", "due-now", NOW)
    await session.commit()

    plan = await _plan(session, outbox.claim_due_statement(NOW, 50, "w1", LEASE))
    print(f"\n{session.get_bind().dialect.name} claim plan:\n{plan}")
    assert CLAIM_INDEX in plan
    assert "Seq Scan on notifications" not in plan and "SCAN notifications" not in plan  # no full scan
    if session.get_bind().dialect.name == "postgresql":
        assert "LockRows" in plan  # FOR UPDATE SKIP LOCKED
        generic = await _generic_plan(session, outbox.claim_due_statement(NOW, 50, "w1", LEASE))
        print(f"generic plan:\n{generic}")
        assert CLAIM_INDEX in generic and "Seq Scan on notifications" not in generic
        assert "$" in generic  # really generic: the time is a parameter, not a value

    # And the claim itself: the one due row, among all those that are not due yet.
    assert [n.dedup_key for n in await outbox.claim_due(NOW, 50, "w1", LEASE)] == ["due-now"]
    await session.rollback()


# --- preferences --------------------------------------------------------------------------------


async def test_preferences_default_until_changed(session: AsyncSession) -> None:
    repo = NotificationPreferencesRepository(session)
    doctor_id = await _doctor(session)
    assert await repo.get(doctor_id) is None
    defaults = await repo.get_or_default(doctor_id)
    assert defaults not in session  # not saved, nothing written
    assert (
        defaults.doctor_id,
        defaults.disabled_kinds,
        defaults.quiet_start,
        defaults.quiet_end,
        defaults.quiet_enabled,
        defaults.silent_routine,
        defaults.brief_time,
        defaults.reminder_lead_minutes,
        defaults.timezone,
    ) == (doctor_id, [], time(21), time(8), True, False, None, 30, "Europe/Moscow")
    await session.commit()
    assert await session.scalar(select(func.count()).select_from(NotificationPreferences)) == 0

    saved = await repo.update(doctor_id, quiet_start=time(22, 30), disabled_kinds={"cme_deadline", "morning_brief"})
    await session.commit()
    assert saved.quiet_start == time(22, 30) and saved.quiet_end == time(8)
    session.expunge_all()
    stored = await repo.get(doctor_id)
    assert stored is not None
    assert (stored.quiet_start, stored.quiet_end, stored.disabled_kinds, stored.timezone, stored.quiet_enabled) == (
        time(22, 30),
        time(8),
        ["cme_deadline", "morning_brief"],
        "Europe/Moscow",
        True,
    )

    # Only what is given changes.
    await repo.update(
        doctor_id,
        timezone="Asia/Vladivostok",
        brief_time=time(7, 45, 30),
        quiet_enabled=False,
        silent_routine=True,
        reminder_lead_minutes=60,
    )
    await session.commit()
    session.expunge_all()
    stored = await repo.get_or_default(doctor_id)
    assert (
        stored.quiet_start,
        stored.disabled_kinds,
        stored.timezone,
        stored.brief_time,
        stored.quiet_enabled,
        stored.silent_routine,
        stored.reminder_lead_minutes,
    ) == (time(22, 30), ["cme_deadline", "morning_brief"], "Asia/Vladivostok", time(7, 45), False, True, 60)
    await repo.update(doctor_id, brief_time=None, disabled_kinds=[])
    await session.commit()
    session.expunge_all()
    stored = await repo.get_or_default(doctor_id)
    assert stored.brief_time is None and stored.disabled_kinds == [] and stored.timezone == "Asia/Vladivostok"


async def test_preferences_are_validated_before_anything_is_written(session: AsyncSession) -> None:
    repo = NotificationPreferencesRepository(session)
    doctor_id = await _doctor(session)
    await session.commit()
    with pytest.raises(InvalidTimezone):
        await repo.update(doctor_id, timezone="Mars/Olympus_Mons")
    with pytest.raises(InvalidTimezone):
        await repo.update(doctor_id, timezone="")
    with pytest.raises(ValueError, match="unknown notification kinds: morning-brief"):
        await repo.update(doctor_id, disabled_kinds=["morning-brief"])
    with pytest.raises(TypeError, match="not one string"):
        await repo.update(doctor_id, disabled_kinds="morning_brief")
    with pytest.raises(ValueError, match="local time"):
        await repo.update(doctor_id, quiet_start=time(21, tzinfo=UTC))
    with pytest.raises(ValueError, match="reminder_lead_minutes"):
        await repo.update(doctor_id, reminder_lead_minutes=-5)
    with pytest.raises(ValueError, match="reminder_lead_minutes"):
        await repo.update(doctor_id, reminder_lead_minutes=24 * 60 + 1)
    with pytest.raises(TypeError, match="not notification preferences: colour"):
        await repo.update(doctor_id, colour="red")  # type: ignore[call-arg]
    assert await repo.get(doctor_id) is None
    with pytest.raises(IntegrityError):  # no such doctor
        await repo.update(doctor_id + 1000, quiet_enabled=False)
    await session.rollback()


async def test_two_first_changes_racing(session_maker: async_sessionmaker[AsyncSession]) -> None:
    async with session_maker() as setup:
        doctor_id = await _doctor(setup)
        await setup.commit()
    async with session_maker() as first, session_maker() as second:
        await NotificationPreferencesRepository(first).update(doctor_id, quiet_enabled=False)
        await first.commit()
        # ``second`` never saw the row: its update lands on the conflict path, keeping the first change.
        await NotificationPreferencesRepository(second).update(doctor_id, silent_routine=True)
        await second.commit()
    async with session_maker() as check:
        stored = await NotificationPreferencesRepository(check).get(doctor_id)
        assert stored is not None and (stored.quiet_enabled, stored.silent_routine) == (False, True)


# --- announcements and their audience -----------------------------------------------------------


async def test_announcement_lifecycle(session: AsyncSession) -> None:
    repo = AnnouncementRepository(session)
    author = await _doctor(session, "Главврач")
    clinic_id = (await ClinicRepository(session).add("ГП1", "ГП1", "Europe/Moscow")).id
    announcement = await repo.add(author, "Собрание в 15:00 в актовом зале", clinic_id, "терапевт", 12)
    await session.commit()
    assert (announcement.total, announcement.finished_at, announcement.progress_chat_id) == (12, None, None)
    assert await repo.unfinished_ids() == [announcement.id]
    await repo.set_progress_message(announcement.id, 7_000_000_001, 345)
    await repo.set_total(announcement.id, 11)
    await session.commit()
    assert await repo.finish(announcement.id, NOW)
    assert not await repo.finish(announcement.id, _at(60))  # the first finish stands
    await session.commit()
    session.expunge_all()
    stored = await repo.get(announcement.id)
    assert stored is not None
    assert (stored.author_doctor_id, stored.clinic_id, stored.specialty, stored.total) == (
        author,
        clinic_id,
        "терапевт",
        11,
    )
    assert (stored.progress_chat_id, stored.progress_message_id, stored.finished_at) == (7_000_000_001, 345, NOW)
    assert await repo.unfinished_ids() == []
    assert await repo.get(10_000) is None
    with pytest.raises(AnnouncementNotFound):
        await repo.finish(10_000, NOW)
    with pytest.raises(ValueError, match="total"):
        await repo.add(author, "x", None, None, -1)


async def test_announcement_recipients(session: AsyncSession) -> None:
    clinics, roles = ClinicRepository(session), ClinicRoleRepository(session)
    accounts, consents = TelegramAccountRepository(session), ConsentRepository(session)
    a = (await clinics.add("ГП1", "ГП1", "Europe/Moscow")).id
    b = (await clinics.add("ГП2", "ГП2", "Europe/Moscow")).id

    async def doctor(
        name: str,
        specialty: str | None = None,
        *,
        account: bool = True,
        answers: tuple[tuple[str, bool, int], ...] = (("1", True, 0),),
        clinic_ids: tuple[int, ...] = (),
        positions: tuple[str | None, ...] = (),
    ) -> int:
        doctor_id = await _doctor(session, name, specialty)
        if account:
            await accounts.upsert(1_000_000_000 + doctor_id, 2_000_000_000 + doctor_id)
            await accounts.link_doctor(1_000_000_000 + doctor_id, doctor_id)
        for version, accepted, minutes in answers:
            await consents.record(doctor_id, PERSONAL_DATA, version, accepted, NOW + timedelta(minutes=minutes))
        for clinic_id in clinic_ids:
            await roles.grant(doctor_id, clinic_id, Role.DOCTOR)
        await DoctorProfileRepository(session).replace_positions(
            doctor_id, [PositionData("1.2.643.1", "ГП", "врач", specialty=s) for s in positions]
        )
        return doctor_id

    therapist = await doctor("Терапевтова", "Терапевт", clinic_ids=(a,))
    by_position = await doctor("Позиционная", None, clinic_ids=(b,), positions=("хирург", " ТЕРАПЕВТ "))
    surgeon = await doctor("Хирургов", "хирург", clinic_ids=(a,), positions=(None,))
    both = await doctor("Двойная", "педиатр", clinic_ids=(a, b))
    await doctor("Безсогласия", "терапевт", answers=(), clinic_ids=(a,))
    await doctor("Отказ", "терапевт", answers=(("1", False, 0),), clinic_ids=(a,))
    await doctor("Передумала", "терапевт", answers=(("1", True, 0), ("2", False, 10)), clinic_ids=(a,))
    renewed = await doctor("Вернулась", "терапевт", answers=(("1", False, 0), ("2", True, 10)))
    await doctor("Безтелеграма", "терапевт", account=False, clinic_ids=(a,))
    blocked = await doctor("Заблокировала", "терапевт", clinic_ids=(a,))
    await accounts.mark_unreachable(2_000_000_000 + blocked, NOW)
    await session.commit()
    repo = AnnouncementRepository(session)

    def chats(*doctor_ids: int) -> list[tuple[int, int, str]]:
        return [(2_000_000_000 + d, d, "ru") for d in sorted(doctor_ids)]

    assert await repo.recipients() == chats(therapist, by_position, surgeon, both, renewed)
    assert await repo.recipients(clinic_id=a) == chats(therapist, surgeon, both)
    assert await repo.recipients(clinic_id=b) == chats(by_position, both)
    assert await repo.recipients(specialty="терапевт") == chats(therapist, by_position, renewed)
    assert await repo.recipients(specialty="  ТЕРАПЕВТ") == chats(therapist, by_position, renewed)
    assert await repo.recipients(clinic_id=a, specialty="Терапевт") == chats(therapist)
    assert await repo.recipients(specialty="Хирург") == chats(by_position, surgeon)
    assert await repo.recipients(specialty="кардиолог") == []
    assert await repo.recipients(clinic_id=10_000) == []
    assert await repo.recipients(consent_version="2") == chats(renewed)
    assert specialty_key("Врач-Педиатр  Участковый") == "врач-педиатр участковый"
    assert specialty_key("Ёлкин") == specialty_key("елкин")

    # Writing to the bot again makes the doctor reachable.
    assert await accounts.mark_reachable(1_000_000_000 + blocked)
    await session.commit()
    assert (2_000_000_000 + blocked, blocked, "ru") in await repo.recipients(clinic_id=a)


# --- unreachable accounts -----------------------------------------------------------------------


async def test_unreachable_accounts(session: AsyncSession) -> None:
    accounts = TelegramAccountRepository(session)
    clinic_id = (await ClinicRepository(session).add("ГП1", "ГП1", "Europe/Moscow")).id
    first, second = await _doctor(session, "Первая"), await _doctor(session, "Вторая")
    for user_id, doctor_id in ((7_000_000_001, first), (7_000_000_002, second)):
        await accounts.upsert(user_id, user_id)
        await accounts.link_doctor(user_id, doctor_id)
    await accounts.upsert(7_000_000_003, 7_000_000_003)  # never linked
    await ClinicRoleRepository(session).grant(first, clinic_id, Role.DOCTOR)
    await session.commit()
    assert await accounts.unreachable() == []

    assert await accounts.mark_unreachable(7_000_000_002, NOW) == 1
    assert await accounts.mark_unreachable(7_000_000_001, _at(60)) == 1
    assert await accounts.mark_unreachable(7_000_000_003, NOW) == 1
    assert await accounts.mark_unreachable(7_000_000_002, _at(120)) == 0  # the first date stays
    assert await accounts.mark_unreachable(123, NOW) == 0
    await session.commit()
    session.expunge_all()
    assert [(a.telegram_user_id, a.unreachable_since) for a in await accounts.unreachable()] == [
        (7_000_000_002, NOW),
        (7_000_000_001, _at(60)),
    ]  # linked accounts only, the longest unreachable first
    assert [a.telegram_user_id for a in await accounts.unreachable(clinic_id)] == [7_000_000_001]

    assert await accounts.mark_reachable(7_000_000_002)
    assert not await accounts.mark_reachable(7_000_000_002)
    assert not await accounts.mark_reachable(404)
    await session.commit()
    session.expunge_all()
    account = await session.get(TelegramAccount, 7_000_000_002)
    assert account is not None and account.unreachable_since is None
    assert [a.telegram_user_id for a in await accounts.unreachable()] == [7_000_000_001]


async def test_mark_unreachable_by_chat_id(session: AsyncSession) -> None:
    accounts = TelegramAccountRepository(session)
    await accounts.upsert(5, 500)  # a user whose chat id differs from the user id
    await session.commit()
    assert await accounts.mark_unreachable(500, NOW) == 1
    await session.commit()
    session.expunge_all()
    account = await accounts.get(5)
    assert account is not None and account.unreachable_since == NOW


# --- removing a doctor --------------------------------------------------------------------------


async def test_deleting_a_doctor_removes_their_notifications_and_preferences(session: AsyncSession) -> None:
    doctor_id, other_id = await _doctor(session, "Первая"), await _doctor(session, "Вторая")
    announcement = await AnnouncementRepository(session).add(doctor_id, "Текст", None, None, 2)
    outbox = OutboxRepository(session)
    for owner in (doctor_id, other_id):
        await outbox.enqueue(owner, "announcement", f"a:{owner}", NOW, doctor_id=owner, announcement_id=announcement.id)
        await NotificationPreferencesRepository(session).update(owner, quiet_enabled=False)
    await session.commit()

    assert await DoctorProfileRepository(session).delete_doctor(doctor_id)
    await session.commit()
    session.expunge_all()
    assert [n.doctor_id for n in await _rows(session)] == [other_id]
    assert await session.get(NotificationPreferences, doctor_id) is None
    assert await session.get(NotificationPreferences, other_id) is not None
    kept = await session.get(Announcement, announcement.id)
    assert kept is not None and kept.author_doctor_id is None  # the announcement stays, without its author
