"""The day view served from the read cache, on SQLite and PostgreSQL: a repeated press reads
nothing from the database, and every change a doctor could notice — a booking, a cancellation,
a renamed patient, a revoked role, a PIN lock, the idle timeout, the clock passing a free slot,
a logout — is shown at once, never the stale day. Each view is still audited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.keys import Crypto
from services.audit import AuditBuffer
from services.identity.access import AccessDenied, AccessService, NotLinked, PinLocked, PinRequired, SecurityPolicy
from services.patients import NoClinic
from services.read_cache import ReadCache
from services.schedule.service import DayView, ScheduleService
from services.uow import UnitOfWork
from storage.changes import ChangeEpochs, RedisChangeEpochs
from storage.db import make_session_maker
from storage.models import Patient
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.schedule import AppointmentRepository
from storage.repositories.security import SecurityRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository
from tests.flow.conftest import make_test_crypto
from tests.schedule.support import ANNA, DOCTOR_TG, OTHER_TG, World, add_shift, local, make_world, register_patient
from tests.schedule.test_service import DAY, MSK, NOW, VVO


@dataclass
class Cached:
    session_maker: async_sessionmaker[AsyncSession]
    cache: ReadCache
    audit: AuditBuffer
    crypto: Crypto
    engine: AsyncEngine

    async def day(self, now: datetime = NOW, tg: int = DOCTOR_TG, clinic: int | None = None) -> DayView:
        async with UnitOfWork(self.session_maker) as uow:
            schedule = ScheduleService(
                uow, self.crypto.cipher, self.crypto.index, SecurityPolicy(), lambda: now, cache=self.cache, audit=self.audit
            )
            return await schedule.day(tg, DAY, clinic)

    async def call(self, method: str, *args: object) -> Any:
        async with UnitOfWork(self.session_maker) as uow:
            schedule = ScheduleService(uow, self.crypto.cipher, self.crypto.index, now=lambda: NOW, cache=self.cache)
            return await getattr(schedule, method)(*args)

    @contextmanager
    def statements(self) -> Iterator[list[str]]:
        seen: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            seen.append(statement)

        event.listen(self.engine.sync_engine, "before_cursor_execute", count)
        try:
            yield seen
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", count)


@pytest.fixture
async def cached(engine: AsyncEngine) -> AsyncIterator[Cached]:
    epochs = ChangeEpochs()
    session_maker = make_session_maker(engine, epochs)
    audit = AuditBuffer(session_maker, delay=60)  # flushed by the tests themselves
    yield Cached(session_maker, ReadCache(epochs), audit, make_test_crypto(), engine)
    await audit.close()


@pytest.fixture
async def world(cached: Cached) -> World:
    world = await make_world(cached.session_maker, cached.crypto)
    await add_shift(cached.session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (12, 0), 30)
    return world


def names(view: DayView) -> list[tuple[str, str]]:
    return [(a.patient.name, a.status) for a in view.appointments]


async def test_a_repeated_press_reads_nothing_and_is_still_audited(cached: Cached, world: World) -> None:
    first = await cached.day()
    with cached.statements() as seen:
        again = await cached.day()
    assert seen == []  # access, PIN state, appointments, patients: all from the cache
    assert again is first and again.free == 6
    assert cached.audit.pending == 2
    assert await cached.audit.flush() == 2
    async with cached.session_maker() as session:
        rows = (await session.execute(text("SELECT operation, object_id FROM audit_events WHERE operation = 'schedule_view'"))).all()
    assert [tuple(r) for r in rows] == [("schedule_view", DAY.isoformat())] * 2


async def test_bookings_and_cancellations_show_at_once(cached: Cached, world: World) -> None:
    assert names(await cached.day()) == []
    booked = await cached.call("book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 30, MSK))
    view = await cached.day()
    assert names(view) == [("Петрова А. В.", "booked")] and view.free == 5
    await cached.call("set_status", DOCTOR_TG, booked.id, booked.version, "cancelled", "Пациент попросил")
    view = await cached.day()
    assert names(view) == [("Петрова А. В.", "cancelled")] and view.free == 6


async def test_another_doctors_changes_leave_the_cache_alone(cached: Cached, world: World) -> None:
    await cached.day()
    async with cached.session_maker() as session:
        await AppointmentRepository(session).add(
            world.other_doctor, world.moscow, world.ivan, local(DAY, 9, 0, MSK), local(DAY, 9, 30, MSK), actor="t"
        )
        await session.commit()
    hits = cached.cache.hits
    assert names(await cached.day()) == []
    assert cached.cache.hits == hits + 2  # the access and the day


async def test_a_renamed_patient_is_shown_renamed(cached: Cached, world: World) -> None:
    await cached.call("book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 30, MSK))
    assert names(await cached.day()) == [("Петрова А. В.", "booked")]
    async with cached.session_maker() as session:
        patient = await session.get(Patient, world.anna)
        assert patient is not None
        patient.last_name = cached.crypto.cipher.encrypt("Сомова", "patients.last_name")
        await session.commit()
    assert names(await cached.day()) == [("Сомова А. В.", "booked")]


async def test_a_revoked_role_a_logout_and_a_lock_take_effect_on_the_next_press(cached: Cached, world: World) -> None:
    await cached.day()
    async with cached.session_maker() as session:
        await SecurityRepository(session).record_failure(world.doctor, datetime.now(UTC), 1, timedelta(minutes=15))
        await session.commit()
    with pytest.raises(PinLocked):
        await cached.day()
    await cached.day(tg=OTHER_TG)
    async with cached.session_maker() as session:
        await ClinicRoleRepository(session).revoke(world.other_doctor, world.moscow, Role.DOCTOR)
        await session.commit()
    with pytest.raises((NoClinic, AccessDenied)):
        await cached.day(tg=OTHER_TG)
    async with cached.session_maker() as session:
        await TelegramAccountRepository(session).unlink(DOCTOR_TG)
        await session.commit()
    with pytest.raises(NotLinked):
        await cached.day()


async def test_the_idle_timeout_is_checked_on_every_press(
    cached: Cached, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cached.day()
    # Nothing written, only time passing: the cached PIN state is checked against the clock.
    later = datetime.now(UTC) + timedelta(hours=1)
    with monkeypatch.context() as patch:
        patch.setattr(AccessService, "_now", staticmethod(lambda: later))
        with pytest.raises(PinRequired):
            await cached.day()
    await cached.day()
    async with cached.session_maker() as session:
        # As if the doctor had put the phone away an hour ago (an operator's write, not a repository's).
        await session.execute(
            text("UPDATE doctor_security SET last_verified_at = :t WHERE doctor_id = :d"),
            {"t": datetime.now(UTC) - timedelta(hours=1), "d": world.doctor},
        )
        await session.commit()
    with pytest.raises(PinRequired):
        await cached.day()


async def test_the_clock_passing_a_free_slot_is_noticed(cached: Cached, world: World) -> None:
    assert (await cached.day(now=local(DAY, 8, 0, MSK))).free == 6
    assert (await cached.day(now=local(DAY, 9, 0, MSK))).free == 6  # 9:00 is still bookable at 9:00
    assert (await cached.day(now=local(DAY, 9, 1, MSK))).free == 5
    assert (await cached.day(now=local(DAY, 11, 45, MSK))).free == 0


async def _days(process: Cached, world: World) -> tuple[DayView, DayView, DayView]:
    return (
        await process.day(clinic=world.moscow),
        await process.day(clinic=world.vladivostok),
        await process.day(),
    )


def _where(view: DayView) -> list[tuple[int, int, int]]:
    return [(a.id, a.clinic.id, a.patient.patient_id) for a in view.appointments]


async def _move_to_vladivostok_and_back(writer: Cached, reader: Cached, world: World) -> None:
    """Anna (Moscow, registered in Vladivostok too) is moved to Vladivostok by ``writer``; the days
    ``reader`` has cached — Moscow's, Vladivostok's, the merged one — show it on the next press."""
    anna_vvo = await register_patient(writer.session_maker, writer.crypto, world.vladivostok, ANNA)
    await add_shift(writer.session_maker, world.doctor, world.vladivostok, DAY, VVO, (13, 0), (14, 0), 30)
    booked = await writer.call("book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 30, MSK))
    moscow, vladivostok, both = await _days(reader, world)
    assert _where(moscow) == [(booked.id, world.moscow, world.anna)] and moscow.free == 5
    assert _where(vladivostok) == [] and vladivostok.free == 2
    again = await _days(reader, world)
    assert all(view is cached for view, cached in zip(again, (moscow, vladivostok, both), strict=True))

    moved = await writer.call("reschedule", DOCTOR_TG, booked.id, booked.version, local(DAY, 13, 0, VVO), world.vladivostok)
    moscow, vladivostok, both = await _days(reader, world)
    assert _where(moscow) == [] and moscow.free == 6
    assert _where(vladivostok) == [(booked.id, world.vladivostok, anna_vvo)] and vladivostok.free == 1
    assert _where(both) == [(booked.id, world.vladivostok, anna_vvo)] and both.free == 7

    async with UnitOfWork(writer.session_maker) as uow:  # undo runs on the real clock (5 minutes)
        schedule = ScheduleService(
            uow, writer.crypto.cipher, writer.crypto.index, now=lambda: datetime.now(UTC), cache=writer.cache
        )
        await schedule.undo(DOCTOR_TG, booked.id, moved.appointment.version)
    moscow, vladivostok, both = await _days(reader, world)
    assert _where(moscow) == [(booked.id, world.moscow, world.anna)] and moscow.free == 5
    assert _where(vladivostok) == [] and vladivostok.free == 2


async def test_a_move_to_another_clinic_shows_in_both_clinics_days_at_once(cached: Cached, world: World) -> None:
    await _move_to_vladivostok_and_back(cached, cached, world)


async def test_another_process_sees_a_move_across_clinics_at_once(engine: AsyncEngine, redis_url: str) -> None:
    """Scale-out: one process moves, another had both clinics' days cached (epochs in Redis)."""
    prefix = f"medcab:test-move-epochs:{datetime.now(UTC).timestamp()}:"
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    crypto = make_test_crypto()  # one deployment: the same keys in every process
    processes = []
    for client in clients:
        epochs = RedisChangeEpochs(client, prefix)
        session_maker = make_session_maker(engine, epochs)
        processes.append(Cached(session_maker, ReadCache(epochs), AuditBuffer(session_maker, delay=60), crypto, engine))
    writer, reader = processes
    try:
        world = await make_world(writer.session_maker, writer.crypto)
        await add_shift(writer.session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (12, 0), 30)
        await _move_to_vladivostok_and_back(writer, reader, world)
    finally:
        for process in processes:
            await process.audit.close()
        keys = [key async for key in clients[0].scan_iter(match=prefix + "*")]
        if keys:
            await clients[0].delete(*keys)
        for client in clients:
            await client.aclose()


def test_the_cache_is_bounded_and_expires() -> None:
    cache = ReadCache(ChangeEpochs(), max_entries=2, ttl=60)

    async def scenario() -> None:
        since = await cache.begin()
        for key in "abc":
            cache.put(key, key.upper(), ["appointments:doctor_id=1"], since)
        assert len(cache) == 2 and await cache.get("a") is None and await cache.get("c") == "C"
        cache.put("d", "D", [], None)  # no stamp: not stored
        assert await cache.get("d") is None
        expired = ReadCache(ChangeEpochs(), ttl=0)
        expired.put("a", "A", [], await expired.begin())
        assert await expired.get("a") is None

    import asyncio

    asyncio.run(scenario())
