"""Shifts: drafts and publishing, the administrator's occupancy view, changes that would orphan
booked appointments (listed, then done only when confirmed), and other people's shifts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keys import Crypto
from services.errors import DomainError
from services.schedule.dates import DateInputError
from services.schedule.service import ScheduleService
from services.schedule.shifts import ShiftHasAppointments, ShiftService, parse_shift
from services.uow import UnitOfWork
from tests.flow.conftest import make_test_crypto
from tests.schedule.support import ADMIN_TG, DOCTOR_TG, OTHER_TG, World, local, make_world

MSK = "Europe/Moscow"


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    return await make_world(session_maker, crypto)


async def shifts(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, method: str, *args: object, **kw: object) -> object:
    async with UnitOfWork(session_maker) as uow:
        return await getattr(ShiftService(uow, crypto.cipher), method)(*args, **kw)


async def schedule(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, method: str, *args: object) -> object:
    async with UnitOfWork(session_maker) as uow:
        return await getattr(ScheduleService(uow, crypto.cipher, crypto.index), method)(*args)


def parse_cases() -> None:
    today = date(2026, 12, 10)
    data = parse_shift("25.12 09:00-15:00 20 перерыв 12:00-12:30", today)
    assert (data.day, data.slot_minutes, data.pause is not None) == (date(2026, 12, 25), 20, True)
    for bad in ("25.12", "25.12 15:00-09:00", "25.12 09:00-15:00 7", "09.12 09:00-15:00", "25.12 09:00-12:00 30 перерыв 13:00-13:30"):
        with pytest.raises(DateInputError):
            parse_shift(bad, today)


def test_parse_shift() -> None:
    parse_cases()


async def test_draft_publish_occupancy_and_orphan_checks(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    day = datetime.now(ZoneInfo(MSK)).date() + timedelta(days=3)
    typed = f"{day.day:02d}.{day.month:02d}.{day.year} 09:00-11:00 30"
    view = await shifts(session_maker, crypto, "create", DOCTOR_TG, world.moscow, typed)
    assert (view.published, view.slots, view.booked) == (False, 4, 0)
    assert view.starts_at == local(day, 9, 0, MSK)
    assert await schedule(session_maker, crypto, "free_slots_on", DOCTOR_TG, world.moscow, day) == []  # a draft
    with pytest.raises(DomainError, match="already have a shift"):
        await shifts(session_maker, crypto, "create", DOCTOR_TG, world.kaliningrad, f"{day.day:02d}.{day.month:02d}.{day.year} 09:00-10:00 30")
    await shifts(session_maker, crypto, "set_published", DOCTOR_TG, view.id, True)
    assert len(await schedule(session_maker, crypto, "free_slots_on", DOCTOR_TG, world.moscow, day)) == 4
    await schedule(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(day, 10, 30, MSK))

    admin, listed = await shifts(session_maker, crypto, "upcoming", ADMIN_TG)
    assert admin is True and [(v.id, v.booked, v.slots) for v in listed] == [(view.id, 1, 4)]
    # One shift opens by itself (not by reloading the list); another doctor's is answered like a
    # missing one, and the forgery is audited.
    opened = await shifts(session_maker, crypto, "view", DOCTOR_TG, view.id)
    assert opened is not None and (opened.id, opened.booked) == (view.id, 1)
    assert await shifts(session_maker, crypto, "view", OTHER_TG, view.id) is None
    assert await shifts(session_maker, crypto, "view", DOCTOR_TG, 987654) is None
    async with session_maker() as session:
        assert await session.scalar(text("SELECT count(*) FROM audit_events WHERE operation = 'shift_view' AND outcome = 'denied'")) == 1
    # The administrator plans shifts for the clinic's doctors only (a forged doctor id is denied, audited).
    assert [d.doctor_id for d in await shifts(session_maker, crypto, "doctors", ADMIN_TG, world.moscow)] == [world.doctor, world.other_doctor]
    later = day + timedelta(days=1)
    planned = await shifts(session_maker, crypto, "create", ADMIN_TG, world.moscow, f"{later.day:02d}.{later.month:02d}.{later.year} 14:00-16:00 20", world.other_doctor)
    assert (planned.doctor_id, planned.published, planned.slots) == (world.other_doctor, False, 6)
    with pytest.raises(DomainError, match="Choose a doctor of this clinic"):
        await shifts(session_maker, crypto, "create", ADMIN_TG, world.moscow, f"{later.day:02d}.{later.month:02d} 08:00-09:00 20", world.admin)
    await shifts(session_maker, crypto, "delete", ADMIN_TG, planned.id)
    with pytest.raises(DomainError, match="not yours"):
        await shifts(session_maker, crypto, "delete", OTHER_TG, view.id)

    with pytest.raises(ShiftHasAppointments) as error:
        await shifts(session_maker, crypto, "change_hours", DOCTOR_TG, view.id, "09:00-10:30")
    assert error.value.starts == [local(day, 10, 30, MSK)]
    changed = await shifts(session_maker, crypto, "change_hours", DOCTOR_TG, view.id, "09:00-12:00")  # keeps it
    assert (changed.slots, changed.booked) == (6, 1)
    with pytest.raises(ShiftHasAppointments):  # the administrator is asked too
        await shifts(session_maker, crypto, "delete", ADMIN_TG, view.id)
    assert await shifts(session_maker, crypto, "delete", ADMIN_TG, view.id, cancel_appointments=True) == 1
    async with session_maker() as session:
        statuses = (await session.execute(text("SELECT status FROM appointments"))).scalars().all()
        denied = await session.scalar(text("SELECT count(*) FROM audit_events WHERE operation IN ('shift_delete', 'shift_create') AND outcome = 'denied'"))
        remaining = await session.scalar(text("SELECT count(*) FROM shifts"))
    assert statuses == ["cancelled"] and denied == 2 and remaining == 0


async def test_demo_schedule_is_seeded_once(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> None:
    from services.demo_seed import DemoSeedService

    async with UnitOfWork(session_maker) as uow:
        await DemoSeedService(uow, crypto.cipher, crypto.index).seed()
    async with session_maker() as session:
        per_doctor = dict(
            (await session.execute(text(
                "SELECT d.esia_oid, count(a.id) FROM appointments a JOIN doctors d ON d.id = a.doctor_id GROUP BY d.esia_oid"
            ))).all()
        )
        shifts_count = await session.scalar(text("SELECT count(*) FROM shifts WHERE status = 'published'"))
        pending = await session.scalar(text("SELECT count(*) FROM change_requests WHERE status = 'pending'"))
    assert per_doctor["1000400001"] >= 6 and per_doctor["1000400002"] >= 6
    assert shifts_count == 9 and pending == 2
    async with UnitOfWork(session_maker) as uow:
        await DemoSeedService(uow, crypto.cipher, crypto.index).seed()
    async with session_maker() as session:
        assert await session.scalar(text("SELECT count(*) FROM shifts")) == 9


async def test_deleting_a_shift_leaves_visits_that_already_happened(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    day = datetime.now(ZoneInfo(MSK)).date() + timedelta(days=2)
    view = await shifts(session_maker, crypto, "create", DOCTOR_TG, world.moscow, f"{day.day:02d}.{day.month:02d}.{day.year} 09:00-11:00 30")
    await shifts(session_maker, crypto, "set_published", DOCTOR_TG, view.id, True)
    await schedule(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(day, 9, 0, MSK))
    await schedule(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.ivan, local(day, 10, 0, MSK))
    async with session_maker() as session:  # the first visit took place (marked without the clock's rules)
        await session.execute(text("UPDATE appointments SET status = 'fulfilled' WHERE patient_id = :p"), {"p": world.anna})
        await session.commit()

    with pytest.raises(ShiftHasAppointments) as error:
        await shifts(session_maker, crypto, "delete", DOCTOR_TG, view.id)
    assert error.value.starts == [local(day, 10, 0, MSK)]  # only what is still to come is listed
    assert await shifts(session_maker, crypto, "delete", DOCTOR_TG, view.id, cancel_appointments=True) == 1
    async with session_maker() as session:
        rows = dict((await session.execute(text("SELECT patient_id, status FROM appointments"))).tuples().all())
    assert rows == {world.anna: "fulfilled", world.ivan: "cancelled"}
