"""Change tracking for the read caches, on SQLite and PostgreSQL: which keys a commit bumps.

A key that a commit changed and that is not bumped would let a cache serve a stale schedule or a
revoked access, so every way the repositories write is checked here: ORM flushes, UPDATE and
DELETE statements (by the tracked column, or by anything else: the whole table), upserts, text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.changes import ChangeEpochs, RedisChangeEpochs, dependency_keys, row_key, table_key
from storage.db import make_session_maker
from storage.models import Appointment
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.patients import PatientData, PatientRepository
from storage.repositories.schedule import AppointmentRepository, ShiftRepository
from storage.repositories.security import SecurityRepository
from tests.flow.conftest import make_test_crypto
from tests.schedule.support import add_doctor

START = datetime(2026, 12, 11, 7, 0, tzinfo=UTC)


@pytest.fixture
def epochs() -> ChangeEpochs:
    return ChangeEpochs()


@pytest.fixture
def tracked(engine: AsyncEngine, epochs: ChangeEpochs) -> async_sessionmaker[AsyncSession]:
    return make_session_maker(engine, epochs)


class World:
    clinic: int
    doctor: int
    other: int
    patient: int


@pytest.fixture
async def world(tracked: async_sessionmaker[AsyncSession]) -> World:
    crypto = make_test_crypto()
    world = World()
    async with tracked() as session:
        world.clinic = (await ClinicRepository(session).add("ГП № 1", "ГП № 1", "Europe/Moscow")).id
        world.doctor = await add_doctor(session, 8_001, "8001", [(world.clinic, Role.DOCTOR)])
        world.other = await add_doctor(session, 8_002, "8002", [(world.clinic, Role.DOCTOR)], last_name="Смирнов")
        patients = PatientRepository(session, crypto.cipher, crypto.index)
        world.patient = (await patients.add(world.clinic, PatientData("Петрова", "Анна", None, date(1970, 1, 1)))).id
        await session.commit()
    return world


def changed(epochs: ChangeEpochs, since: int, *keys: str) -> bool:
    """Would a cache entry read at ``since`` and depending on ``keys`` be discarded now?"""
    return not _run(epochs.unchanged(dependency_keys(keys), since))


def _run(awaitable: object) -> bool:
    # ChangeEpochs.unchanged never awaits anything in one process: drive the coroutine by hand.
    coroutine = awaitable
    try:
        coroutine.send(None)  # type: ignore[attr-defined]
    except StopIteration as done:
        return bool(done.value)
    raise AssertionError("the in-process epochs awaited something")


async def test_an_orm_insert_bumps_its_doctor_only_after_the_commit(
    tracked: async_sessionmaker[AsyncSession], epochs: ChangeEpochs, world: World
) -> None:
    since = await epochs.begin()
    assert since is not None
    async with tracked() as session:
        await AppointmentRepository(session).add(world.doctor, world.clinic, world.patient, START, START + timedelta(minutes=30), actor="t")
        assert not changed(epochs, since, row_key("appointments", "doctor_id", world.doctor))  # flushed, not committed
        await session.commit()
    assert changed(epochs, since, row_key("appointments", "doctor_id", world.doctor))
    assert not changed(epochs, since, row_key("appointments", "doctor_id", world.other))
    assert not changed(epochs, since, row_key("shifts", "doctor_id", world.doctor))


async def test_a_rolled_back_write_bumps_nothing(
    tracked: async_sessionmaker[AsyncSession], epochs: ChangeEpochs, world: World
) -> None:
    since = await epochs.begin()
    assert since is not None
    async with tracked() as session:
        await ShiftRepository(session).add(world.doctor, world.clinic, START, START + timedelta(hours=4), 30)
        await session.rollback()
    assert not changed(epochs, since, row_key("shifts", "doctor_id", world.doctor))


async def test_updates_and_deletes_by_the_tracked_column_are_precise(
    tracked: async_sessionmaker[AsyncSession], epochs: ChangeEpochs, world: World
) -> None:
    since = await epochs.begin()
    assert since is not None
    async with tracked() as session:
        await SecurityRepository(session).touch(world.doctor, datetime.now(UTC))  # UPDATE … WHERE doctor_id = …
        await ClinicRoleRepository(session).revoke(world.other, world.clinic, Role.DOCTOR)  # DELETE … WHERE doctor_id = …
        await session.commit()
    assert changed(epochs, since, row_key("doctor_security", "doctor_id", world.doctor))
    assert not changed(epochs, since, row_key("doctor_security", "doctor_id", world.other))
    assert changed(epochs, since, row_key("clinic_roles", "doctor_id", world.other))
    assert not changed(epochs, since, row_key("clinic_roles", "doctor_id", world.doctor))


async def test_an_upsert_names_its_row(tracked: async_sessionmaker[AsyncSession], epochs: ChangeEpochs, world: World) -> None:
    since = await epochs.begin()
    assert since is not None
    async with tracked() as session:
        await SecurityRepository(session).record_failure(world.other, datetime.now(UTC), 5, timedelta(minutes=15))
        await session.commit()
    assert changed(epochs, since, row_key("doctor_security", "doctor_id", world.other))
    assert not changed(epochs, since, row_key("doctor_security", "doctor_id", world.doctor))


async def test_an_appointment_changed_by_id_bumps_its_doctor(
    tracked: async_sessionmaker[AsyncSession], epochs: ChangeEpochs, world: World
) -> None:
    async with tracked() as session:
        appointment = await AppointmentRepository(session).add(
            world.doctor, world.clinic, world.patient, START, START + timedelta(minutes=30), actor="t"
        )
        await session.commit()
    since = await epochs.begin()
    assert since is not None
    async with tracked() as session:
        assert await AppointmentRepository(session).change(appointment.id, 1, actor="t", event="cancelled", status="cancelled")
        await session.commit()
    assert changed(epochs, since, row_key("appointments", "doctor_id", world.doctor))
    assert not changed(epochs, since, row_key("appointments", "doctor_id", world.other))


async def test_writes_that_name_no_tracked_value_bump_the_whole_table(
    tracked: async_sessionmaker[AsyncSession], epochs: ChangeEpochs, world: World
) -> None:
    other_key = row_key("appointments", "doctor_id", world.other)
    for statement in (
        update(Appointment).where(Appointment.id == 12345).values(status="cancelled"),  # by id only
        update(Appointment).where(Appointment.doctor_id == world.doctor).values(doctor_id=world.other),  # moves rows
        text("UPDATE appointments SET status = 'cancelled' WHERE id = 12345"),  # plain SQL
    ):
        since = await epochs.begin()
        assert since is not None
        async with tracked() as session:
            await session.execute(statement)
            await session.commit()
        assert changed(epochs, since, other_key), statement
        assert table_key("appointments") in dependency_keys([other_key])
    # A table nobody caches bumps nothing.
    since = await epochs.begin()
    assert since is not None
    async with tracked() as session:
        await session.execute(text("UPDATE audit_events SET id = id WHERE 1 = 0"))
        await session.commit()
    assert not changed(epochs, since, other_key)


async def test_an_untracked_session_maker_writes_as_before(engine: AsyncEngine, world: World) -> None:
    async with make_session_maker(engine)() as session:
        await ShiftRepository(session).add(world.doctor, world.clinic, START, START + timedelta(hours=4), 30)
        await session.commit()
        assert "medcab_changes" not in session.info


def test_forgetting_keys_when_full_invalidates_everything_read_before() -> None:
    epochs = ChangeEpochs(max_keys=3)
    epochs.committed({"a:x=1"})
    since = epochs._sequence
    epochs.committed({"b:x=1", "b:x=2", "b:x=3"})  # over the limit: forgotten, the floor moves
    assert changed(epochs, since, "a:x=1")  # not bumped since, but no longer known: treated as changed
    later = epochs._sequence
    assert not changed(epochs, later, "a:x=1")


# --- shared through Redis --------------------------------------------------------------------


@pytest.fixture
async def redis_epochs(redis_url: str) -> AsyncIterator[tuple[RedisChangeEpochs, RedisChangeEpochs]]:
    from redis.asyncio import Redis

    prefix = f"medcab:test-epochs:{datetime.now(UTC).timestamp()}:"
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    yield RedisChangeEpochs(one, prefix), RedisChangeEpochs(two, prefix)
    keys = [key async for key in one.scan_iter(match=prefix + "*")]
    if keys:
        await one.delete(*keys)
    await one.aclose()
    await two.aclose()


async def test_a_change_published_by_one_process_is_seen_by_another(
    redis_epochs: tuple[RedisChangeEpochs, RedisChangeEpochs],
) -> None:
    writer, reader = redis_epochs
    key = dependency_keys([row_key("appointments", "doctor_id", 5)])
    since = await reader.begin()
    assert since is not None
    assert await reader.unchanged(key, since)
    writer.committed({row_key("appointments", "doctor_id", 6)})
    await writer.publish()
    assert await reader.unchanged(key, since)  # another doctor's row
    writer.committed({row_key("appointments", "doctor_id", 5)})
    assert await reader.unchanged(key, since)  # committed, not yet published
    await writer.publish()
    assert not await reader.unchanged(key, since)
    assert await reader.unchanged(key, await reader.begin() or 0)  # read again after: valid


async def test_redis_restarting_empty_discards_what_was_read_before(
    redis_epochs: tuple[RedisChangeEpochs, RedisChangeEpochs], redis_url: str
) -> None:
    _, reader = redis_epochs
    key = dependency_keys([row_key("shifts", "doctor_id", 5)])
    since = await reader.begin()
    assert since is not None and await reader.unchanged(key, since)
    # What a restart of a Redis that keeps nothing on disk looks like: every key gone.
    await reader._redis.delete(reader._prefix + "run", reader._prefix + "sequence")
    assert not await reader.unchanged(key, since)


async def test_without_redis_nothing_is_cached_and_changes_wait_to_be_published() -> None:
    from redis.asyncio import Redis

    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    epochs = RedisChangeEpochs(down, "medcab:test-down:")
    try:
        assert await epochs.begin() is None
        assert not await epochs.unchanged(("a:*",), 0)
        epochs.committed({"appointments:doctor_id=1"})
        await epochs.publish()  # logged, kept for the next publish
        assert epochs._pending == {"appointments:doctor_id=1"}
    finally:
        await down.aclose()
