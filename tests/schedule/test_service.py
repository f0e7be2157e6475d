"""The schedule's use cases on SQLite and PostgreSQL: views in each clinic's time zone, booking
(with the database refusing overlaps, also under concurrency), status changes, rescheduling with
versions and undo, the waitlist, and forged ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keys import Crypto
from services.errors import DomainError
from services.identity.access import PinRequired
from services.schedule.access import NotYours
from services.schedule.service import Cancelled, ScheduleService, SlotUnavailable, Stale, local_day_bounds
from services.uow import UnitOfWork
from storage.models.shift import SHIFT_DRAFT
from storage.repositories.schedule import AppointmentRepository, SlotTaken
from tests.flow.conftest import make_test_crypto
from tests.schedule.support import DOCTOR_TG, OTHER_TG, World, add_shift, local, make_world

# 15:30 UTC: 18:30 on 10 December in Moscow, 17:30 in Kaliningrad, already 01:30 on 11 December in Vladivostok.
NOW = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
DAY = date(2026, 12, 11)
MSK, VVO, KGD = "Europe/Moscow", "Asia/Vladivostok", "Europe/Kaliningrad"


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    return await make_world(session_maker, crypto)


def service(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, now: datetime = NOW) -> tuple[UnitOfWork, ScheduleService]:
    uow = UnitOfWork(session_maker)
    return uow, ScheduleService(uow, crypto.cipher, crypto.index, now=lambda: now)


async def call(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, method: str, *args: object, now: datetime = NOW, **kw: object) -> object:
    uow, schedule = service(session_maker, crypto, now)
    async with uow:
        return await getattr(schedule, method)(*args, **kw)


async def audit(session_maker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None, str]]:
    async with session_maker() as session:
        rows = await session.execute(text("SELECT operation, object_id, outcome FROM audit_events ORDER BY id"))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_the_database_refuses_overlaps_and_cancelled_frees_the_time(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    start = local(DAY, 10, 0, MSK)
    async with session_maker() as session:
        repo = AppointmentRepository(session)
        first = await repo.add(world.doctor, world.moscow, world.anna, start, start + timedelta(minutes=30), actor="t")
        await session.commit()
    for offset, length in ((0, 30), (15, 30), (-15, 30), (-30, 90)):
        async with session_maker() as session:
            with pytest.raises(SlotTaken):
                begin = start + timedelta(minutes=offset)
                await AppointmentRepository(session).add(
                    world.doctor, world.vladivostok, world.daria, begin, begin + timedelta(minutes=length), actor="t"
                )
    async with session_maker() as session:  # back to back is fine, and another doctor at the same time too
        repo = AppointmentRepository(session)
        await repo.add(world.doctor, world.moscow, world.ivan, start + timedelta(minutes=30), start + timedelta(minutes=60), actor="t")
        await repo.add(world.other_doctor, world.moscow, world.ivan, start, start + timedelta(minutes=30), actor="t")
        await session.commit()
    async with session_maker() as session:  # a raw UPDATE into another's time is refused too
        with pytest.raises(SlotTaken):
            await AppointmentRepository(session).change(
                first.id, 1, actor="t", event="rescheduled", starts_at=start + timedelta(minutes=30), ends_at=start + timedelta(minutes=60)
            )
    async with session_maker() as session:
        repo = AppointmentRepository(session)
        assert await repo.change(first.id, 1, actor="t", event="cancelled", status="cancelled")
        assert not await repo.change(first.id, 1, actor="t", event="cancelled", status="cancelled")  # stale version
        await repo.add(world.doctor, world.moscow, world.ivan, start, start + timedelta(minutes=30), actor="t")
        await session.commit()
        assert await repo.has_conflict(world.doctor, start, start + timedelta(minutes=1))
        assert not await repo.has_conflict(world.doctor, start - timedelta(minutes=30), start)


async def test_two_concurrent_bookings_of_one_slot_one_wins(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK)
    start = local(DAY, 10, 0, MSK)
    results = await asyncio.gather(
        call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, start),
        call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.ivan, start),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], SlotUnavailable)
    assert errors[0].message_id.startswith("This slot has just been taken")
    async with session_maker() as session:
        count = await session.scalar(text("SELECT count(*) FROM appointments"))
    assert count == 1


async def test_day_view_in_each_clinics_time_zone(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    # 23:30 local in Kaliningrad on the 11th is 21:30 UTC; 00:30 on the 11th in Vladivostok is 14:30 UTC on the 10th.
    async with session_maker() as session:
        repo = AppointmentRepository(session)
        kgd = await repo.add(world.doctor, world.kaliningrad, world.oleg, local(DAY, 23, 30, KGD), local(DAY, 23, 59, KGD), actor="t")
        vvo = await repo.add(world.doctor, world.vladivostok, world.daria, local(DAY, 0, 30, VVO), local(DAY, 1, 0, VVO), actor="t")
        late = await repo.add(world.doctor, world.vladivostok, world.daria, local(DAY + timedelta(days=1), 0, 0, VVO), local(DAY + timedelta(days=1), 0, 30, VVO), actor="t")
        msk = await repo.add(world.doctor, world.moscow, world.anna, local(DAY, 9, 0, MSK), local(DAY, 9, 30, MSK), actor="t", reason=crypto.cipher.encrypt("Повторный приём", "appointments.reason"))
        await session.commit()
    view = await call(session_maker, crypto, "day", DOCTOR_TG, DAY)
    assert [a.id for a in view.appointments] == [vvo.id, msk.id, kgd.id]  # combined, in time order
    assert late.id not in [a.id for a in view.appointments]  # the 12th in Vladivostok
    anna = next(a for a in view.appointments if a.id == msk.id)
    assert (anna.patient.name, anna.patient.age) == ("Петрова А. В.", 54)
    assert anna.reason == "Повторный приём"
    only_vvo = await call(session_maker, crypto, "day", DOCTOR_TG, DAY, world.vladivostok)
    assert [a.id for a in only_vvo.appointments] == [vvo.id]
    # "Today" is the first clinic's (Moscow): 10 December, though Vladivostok is already on the 11th.
    today = await call(session_maker, crypto, "day", DOCTOR_TG)
    assert today.day == date(2026, 12, 10)
    # A day where clocks never change in Russia: still 24 hours; the bounds are local midnights.
    start, end = local_day_bounds(DAY, VVO)
    assert (start, end - start) == (datetime(2026, 12, 10, 14, tzinfo=UTC), timedelta(hours=24))
    assert ("schedule_view", "2026-12-11", "ok") in await audit(session_maker)


async def test_free_slots_follow_published_shifts_breaks_and_the_clock(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (12, 0), 30, [((10, 0), (10, 30))])
    await add_shift(session_maker, world.doctor, world.kaliningrad, DAY, KGD, (13, 0), (14, 0), 20, status=SHIFT_DRAFT)
    slots = await call(session_maker, crypto, "free_slots_on", DOCTOR_TG, world.moscow, DAY)
    assert [s.starts_at for s in slots] == [local(DAY, h, m, MSK) for h, m in ((9, 0), (9, 30), (10, 30), (11, 0), (11, 30))]
    assert await call(session_maker, crypto, "free_slots_on", DOCTOR_TG, world.kaliningrad, DAY) == []  # a draft
    # Busy in another clinic at the same moment: the slot is not free here either.
    await add_shift(session_maker, world.doctor, world.vladivostok, date(2026, 12, 11), VVO, (15, 0), (18, 0), 30)
    await call(session_maker, crypto, "book", DOCTOR_TG, world.vladivostok, world.daria, local(DAY, 16, 0, VVO))  # 09:00 MSK
    slots = await call(session_maker, crypto, "free_slots_on", DOCTOR_TG, world.moscow, DAY)
    assert local(DAY, 9, 0, MSK) not in [s.starts_at for s in slots]
    # Late in the shift's day, only what is still ahead is offered.
    later = local(DAY, 11, 10, MSK)
    slots = await call(session_maker, crypto, "free_slots_on", DOCTOR_TG, world.moscow, DAY, now=later)
    assert [s.starts_at for s in slots] == [local(DAY, 11, 30, MSK)]
    week = await call(session_maker, crypto, "week", DOCTOR_TG, DAY, world.moscow)
    assert week.start == date(2026, 12, 7)
    assert [(d.day.day, d.booked, d.free) for d in week.days if d.free or d.booked] == [(11, 0, 4)]


@pytest.mark.parametrize(
    ("hour", "minute", "message"),
    [
        (8, 30, "There is no slot at this time"),  # before the shift
        (10, 0, "There is no slot at this time"),  # in the break
        (9, 10, "There is no slot at this time"),  # not on the slot grid
    ],
)
async def test_booking_outside_slots_is_refused_with_the_reason(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto, hour: int, minute: int, message: str
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (12, 0), 30, [((10, 0), (10, 30))])
    with pytest.raises(SlotUnavailable) as error:
        await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, hour, minute, MSK))
    assert error.value.message_id.startswith(message)


async def test_booking_refuses_the_past_and_a_patient_of_another_clinic(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK)
    with pytest.raises(SlotUnavailable, match="already passed"):
        await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK), now=local(DAY, 9, 5, MSK))
    with pytest.raises(DomainError) as error:
        await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.daria, local(DAY, 9, 0, MSK))
    assert "not registered in this clinic" in error.value.message_id
    # The other doctor does not work in Vladivostok at all.
    with pytest.raises(DomainError, match="do not work in this clinic"):
        await call(session_maker, crypto, "book", OTHER_TG, world.vladivostok, world.daria, local(DAY, 9, 0, VVO))
    with pytest.raises(DomainError, match="not registered in this clinic"):
        await call(session_maker, crypto, "add_to_waitlist", DOCTOR_TG, world.moscow, world.daria)
    ops = await audit(session_maker)
    assert ("appointment_book", str(world.daria), "denied") in ops
    assert ("waitlist_add", str(world.daria), "denied") in ops


async def test_status_changes_cancel_with_reason_and_the_waitlist(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK)
    booked = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK), "Давление")
    with pytest.raises(DomainError, match="has not started yet"):
        await call(session_maker, crypto, "set_status", DOCTOR_TG, booked.id, booked.version, "fulfilled")
    with pytest.raises(DomainError, match="Say why"):
        await call(session_maker, crypto, "set_status", DOCTOR_TG, booked.id, booked.version, "cancelled", "  ")
    await call(session_maker, crypto, "add_to_waitlist", DOCTOR_TG, world.moscow, world.ivan)
    result = await call(session_maker, crypto, "set_status", DOCTOR_TG, booked.id, booked.version, "cancelled", "Заболела")
    assert isinstance(result, Cancelled) and result.waiting == 1
    assert result.appointment.cancel_reason == "Заболела"
    with pytest.raises(Stale):  # the old card's button
        await call(session_maker, crypto, "set_status", DOCTOR_TG, booked.id, booked.version, "arrived")
    filled = await call(session_maker, crypto, "fill_from_waitlist", DOCTOR_TG, booked.id)
    assert filled.patient.name == "Сидоров И. П." and filled.starts_at == booked.starts_at
    with pytest.raises(DomainError, match="Nobody is waiting"):
        await call(session_maker, crypto, "fill_from_waitlist", DOCTOR_TG, booked.id)
    later = local(DAY, 9, 10, MSK)
    arrived = await call(session_maker, crypto, "set_status", DOCTOR_TG, filled.id, filled.version, "arrived", now=later)
    done = await call(session_maker, crypto, "set_status", DOCTOR_TG, arrived.id, arrived.version, "fulfilled", now=later)
    assert done.status == "fulfilled"
    with pytest.raises(DomainError, match="can no longer be changed"):
        await call(session_maker, crypto, "set_status", DOCTOR_TG, done.id, done.version, "noshow", now=later)
    async with session_maker() as session:
        events = [e.event for e in await AppointmentRepository(session).events(filled.id)]
        stored = await session.scalar(text("SELECT cancel_reason FROM appointments WHERE id = :i"), {"i": booked.id})
    assert events == ["booked", "arrived", "fulfilled"]
    assert "Заболела" not in stored  # encrypted at rest


async def test_reschedule_with_version_check_and_undo(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (11, 0), 30)
    booked = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK))
    await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.ivan, local(DAY, 9, 30, MSK))
    offer = await call(session_maker, crypto, "next_slots", DOCTOR_TG, booked.id)
    assert [s.starts_at for s in offer.slots] == [local(DAY, 10, 0, MSK), local(DAY, 10, 30, MSK)]
    assert list(offer.clinics) == [world.moscow]  # Anna is registered in Moscow only
    with pytest.raises(SlotUnavailable, match="just been taken"):
        await call(session_maker, crypto, "reschedule", DOCTOR_TG, booked.id, booked.version, local(DAY, 9, 30, MSK))
    moved = await call(session_maker, crypto, "reschedule", DOCTOR_TG, booked.id, booked.version, local(DAY, 10, 30, MSK))
    assert moved.appointment.starts_at == local(DAY, 10, 30, MSK) and moved.from_starts_at == local(DAY, 9, 0, MSK)
    assert not moved.clinic_changed
    with pytest.raises(Stale):  # someone moved it meanwhile: the old version is refused
        await call(session_maker, crypto, "reschedule", DOCTOR_TG, booked.id, booked.version, local(DAY, 10, 0, MSK))
    with pytest.raises(DomainError, match="too late to undo"):
        await call(session_maker, crypto, "undo", DOCTOR_TG, booked.id, moved.appointment.version, now=datetime.now(UTC) + timedelta(minutes=6))
    back = await call(session_maker, crypto, "undo", DOCTOR_TG, booked.id, moved.appointment.version, now=datetime.now(UTC))
    assert back.appointment.starts_at == local(DAY, 9, 0, MSK) and not back.clinic_changed
    with pytest.raises(DomainError, match="nothing to undo"):
        await call(session_maker, crypto, "undo", DOCTOR_TG, booked.id, moved.appointment.version)


async def test_another_doctors_appointment_is_denied_and_audited(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK)
    booked = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK))
    for method, args in (
        ("card", (booked.id,)),
        ("set_status", (booked.id, 1, "cancelled", "x")),
        ("reschedule", (booked.id, 1, local(DAY, 10, 0, MSK))),
        ("card", (999_999,)),
    ):
        with pytest.raises(NotYours):
            await call(session_maker, crypto, method, OTHER_TG, *args)
    ops = await audit(session_maker)
    assert ops.count(("appointment_view", str(booked.id), "denied")) == 1
    assert ("appointment_status", str(booked.id), "denied") in ops
    assert ("appointment_reschedule", str(booked.id), "denied") in ops
    assert ("appointment_view", "999999", "denied") in ops
    card = await call(session_maker, crypto, "card", DOCTOR_TG, booked.id)
    assert card.status == "booked"


async def test_patient_data_needs_a_fresh_pin(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    async with session_maker() as session:
        await session.execute(text("UPDATE doctor_security SET last_verified_at = :t"), {"t": datetime.now(UTC) - timedelta(hours=1)})
        await session.commit()
    with pytest.raises(PinRequired):
        await call(session_maker, crypto, "day", DOCTOR_TG, DAY)
    week = await call(session_maker, crypto, "week", DOCTOR_TG, DAY)  # counts only: no PIN needed
    assert len(week.days) == 7
