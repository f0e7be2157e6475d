"""Reminders around the schedule, on a fixed clock: pending change requests reminded of once
(after 2 hours, 30 minutes when they concern today), no reminders for short appointments unless
the doctor asked, and the morning brief 30 minutes before the first shift in the clinic's zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import make_i18n
from bot.keys import Crypto
from handlers.notifications import render_notification
from services.reminders import ReminderScans
from services.schedule.change_requests import ChangeRequestService
from services.schedule.notifications import appointment_reminders, change_request_reminders
from services.uow import UnitOfWork
from storage.models.shift import SHIFT_DRAFT
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.notification_preferences import NotificationPreferencesRepository
from storage.repositories.schedule import AppointmentRepository
from tests.flow.conftest import LOCALES, make_test_crypto
from tests.schedule.support import DOCTOR_TG, OTHER_TG, World, add_shift, local, make_world

MSK, VVO, KGD = "Europe/Moscow", "Asia/Vladivostok", "Europe/Kaliningrad"
DAY = date(2030, 3, 12)
T0 = local(DAY, 9, 0, MSK)  # 06:00 UTC


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    return await make_world(session_maker, crypto)


async def appointment(session_maker: async_sessionmaker[AsyncSession], w: World, start: datetime, minutes: int, patient: int | None = None) -> int:
    async with session_maker() as session:
        row = await AppointmentRepository(session).add(
            w.doctor, w.moscow, patient or w.anna, start, start + timedelta(minutes=minutes), actor="t"
        )
        await session.commit()
        return row.id


async def queued(session_maker: async_sessionmaker[AsyncSession], kind: str, chat_id: int = DOCTOR_TG) -> list[tuple[int, str, dict[str, object]]]:
    async with session_maker() as session:
        rows = await session.execute(
            text("SELECT id, urgency, payload FROM notifications WHERE kind = :k AND chat_id = :c ORDER BY id"), {"k": kind, "c": chat_id}
        )
        return [(r[0], r[1], json.loads(r[2])) for r in rows]


async def scan_requests(session_maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    async with UnitOfWork(session_maker) as uow:
        return await change_request_reminders(uow, now)


# --- pending change requests ---------------------------------------------------------------------


async def test_a_pending_request_is_reminded_of_once_sooner_when_it_is_about_today(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    later = await appointment(session_maker, world, local(DAY + timedelta(days=2), 10, 0, MSK), 30)
    today = await appointment(session_maker, world, local(DAY, 15, 0, MSK), 30, world.ivan)
    decided = await appointment(session_maker, world, local(DAY + timedelta(days=3), 10, 0, MSK), 30)
    ids = {}
    for appointment_id in (later, today, decided):
        async with UnitOfWork(session_maker) as uow:
            ids[appointment_id] = await ChangeRequestService(uow, crypto.cipher, now=lambda: T0).create(
                appointment_id, requested_by="admin", kind="cancel", requester_chat_id=7_003, reason="patient_asked"
            )
    async with session_maker() as session:
        assert await ChangeRequestRepository(session).decide(ids[decided], "declined", T0 + timedelta(minutes=5))
        await session.commit()

    assert await scan_requests(session_maker, T0 + timedelta(minutes=29)) == 0
    assert await scan_requests(session_maker, T0 + timedelta(minutes=30)) == 1  # today's: urgent, after 30 min
    assert await scan_requests(session_maker, T0 + timedelta(minutes=31)) == 0  # once
    assert await scan_requests(session_maker, T0 + timedelta(hours=1, minutes=59)) == 0
    assert await scan_requests(session_maker, T0 + timedelta(hours=2)) == 1  # the other: after 2 hours
    assert await scan_requests(session_maker, T0 + timedelta(hours=5)) == 0  # the declined one never
    async with session_maker() as session:
        # Both reminded of: later scans do not even look at them (no insert re-tried every 5 minutes).
        left = await ChangeRequestRepository(session).pending_since(
            T0 + timedelta(hours=5), T0 + timedelta(hours=5), without_notification=("change_request:", ":reminder")
        )
        assert left == []
        assert len(await ChangeRequestRepository(session).pending_since(T0 + timedelta(hours=5), T0 + timedelta(hours=5))) == 2

    reminders = [row for row in await queued(session_maker, "change_request") if row[2].get("reminder")]
    assert [(r[2]["request_id"], r[1]) for r in reminders] == [(ids[today], "urgent"), (ids[later], "routine")]
    text_, markup = render_notification(make_i18n(LOCALES), reminders[0][0], "change_request", reminders[0][2])
    assert text_.startswith("⏳ <b>Всё ещё ждёт вашего решения</b>\n🔔 <b>Запрос на изменение записи</b>")
    assert "Причина: пациент попросил" in text_ and "Петрова" not in text_
    assert markup is not None and markup.inline_keyboard[0][0].text == "✅ Подтвердить"


async def test_an_expired_request_or_a_switched_off_kind_is_not_reminded_of(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    later = await appointment(session_maker, world, local(DAY + timedelta(days=2), 10, 0, MSK), 30)
    async with UnitOfWork(session_maker) as uow:
        await ChangeRequestService(uow, crypto.cipher, now=lambda: T0).create(
            later, requested_by="registry", kind="cancel", ttl=timedelta(hours=1)
        )
    assert await scan_requests(session_maker, T0 + timedelta(hours=3)) == 0  # expired after 1 hour
    other = await appointment(session_maker, world, local(DAY + timedelta(days=4), 10, 0, MSK), 30)
    async with UnitOfWork(session_maker) as uow:
        await ChangeRequestService(uow, crypto.cipher, now=lambda: T0).create(other, requested_by="registry", kind="cancel")
    async with session_maker() as session:
        await NotificationPreferencesRepository(session).update(world.doctor, disabled_kinds=["change_request"])
        await session.commit()
    assert await scan_requests(session_maker, T0 + timedelta(hours=3)) == 0


# --- short appointments --------------------------------------------------------------------------


async def test_short_appointments_get_no_reminder_unless_switched_on(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    short = await appointment(session_maker, world, T0 + timedelta(minutes=10), 15)
    regular = await appointment(session_maker, world, T0 + timedelta(minutes=25), 20, world.ivan)
    async with UnitOfWork(session_maker) as uow:
        assert await appointment_reminders(uow, T0) == 1
    assert [r[2]["appointment_id"] for r in await queued(session_maker, "appointment_reminder")] == [regular]
    async with session_maker() as session:
        await NotificationPreferencesRepository(session).update(world.doctor, remind_short_appointments=True)
        await session.commit()
    async with UnitOfWork(session_maker) as uow:
        assert await appointment_reminders(uow, T0 + timedelta(minutes=1)) == 1
    assert [r[2]["appointment_id"] for r in await queued(session_maker, "appointment_reminder")] == [regular, short]


# --- the morning brief's default time ------------------------------------------------------------


async def briefs(session_maker: async_sessionmaker[AsyncSession], now: datetime, chat_id: int = DOCTOR_TG) -> list[str]:
    async with UnitOfWork(session_maker) as uow:
        await ReminderScans(uow).morning_briefs(now)
    return [str(r[2]["date"]) for r in await queued(session_maker, "morning_brief", chat_id)]


async def test_brief_comes_30_minutes_before_a_vladivostok_shift(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_shift(session_maker, world.doctor, world.vladivostok, DAY, VVO, (9, 0), (13, 0))
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (14, 0), (18, 0))
    due = local(DAY, 8, 30, VVO)  # 22:30 UTC the evening before; 01:30 in Moscow
    assert due == datetime(2030, 3, 11, 22, 30, tzinfo=UTC)
    assert await briefs(session_maker, due - timedelta(minutes=1)) == []
    assert await briefs(session_maker, due) == [DAY.isoformat()]  # Vladivostok's date, not Moscow's
    assert await briefs(session_maker, due + timedelta(hours=12)) == [DAY.isoformat()]  # once


async def test_brief_comes_30_minutes_before_a_kaliningrad_shift_and_a_chosen_time_wins(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_shift(session_maker, world.doctor, world.kaliningrad, DAY, KGD, (10, 0), (14, 0))
    await add_shift(session_maker, world.other_doctor, world.moscow, DAY, MSK, (10, 0), (14, 0))
    # The other doctor chose 07:00 (in their Moscow zone): their 10:00 shift does not move it.
    async with session_maker() as session:
        await NotificationPreferencesRepository(session).update(world.other_doctor, brief_time=time(7, 0))
        await session.commit()
    assert await briefs(session_maker, local(DAY, 6, 59, MSK), OTHER_TG) == []
    assert await briefs(session_maker, local(DAY, 7, 0, MSK), OTHER_TG) == [DAY.isoformat()]
    due = local(DAY, 9, 30, KGD)
    assert due == datetime(2030, 3, 12, 7, 30, tzinfo=UTC)
    # 08:00 in Moscow has passed, but the doctor's day starts at 10:00 in Kaliningrad.
    assert await briefs(session_maker, due - timedelta(minutes=1)) == []
    assert await briefs(session_maker, due) == [DAY.isoformat()]


async def test_without_a_published_shift_the_brief_comes_at_eight(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (6, 0), (9, 0), status=SHIFT_DRAFT)
    await add_shift(session_maker, world.doctor, world.moscow, DAY + timedelta(days=1), MSK, (7, 0), (9, 0))
    assert await briefs(session_maker, local(DAY, 7, 59, MSK)) == []  # a draft is no working day
    assert await briefs(session_maker, local(DAY, 8, 0, MSK)) == [DAY.isoformat()]


async def test_the_reminder_scan_reads_once_for_all_doctors_each_with_their_lead(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with session_maker() as session:
        await NotificationPreferencesRepository(session).update(world.other_doctor, reminder_lead_minutes=120)
        repo = AppointmentRepository(session)
        mine = await repo.add(world.doctor, world.moscow, world.anna, T0 + timedelta(minutes=45), T0 + timedelta(minutes=75), actor="t")
        theirs = await repo.add(world.other_doctor, world.moscow, world.ivan, T0 + timedelta(minutes=45), T0 + timedelta(minutes=75), actor="t")
        await session.commit()
    selects: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = session_maker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with UnitOfWork(session_maker) as uow:
            assert await appointment_reminders(uow, T0) == 1  # 45 minutes: within 120, not within the default 30
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(selects) == 2, selects  # the doctors, then every doctor's appointments at once
    assert [r[2]["appointment_id"] for r in await queued(session_maker, "appointment_reminder", OTHER_TG)] == [theirs.id]
    assert await queued(session_maker, "appointment_reminder") == []
    async with UnitOfWork(session_maker) as uow:
        assert await appointment_reminders(uow, T0 + timedelta(minutes=20)) == 1  # now within 30 minutes
    assert [r[2]["appointment_id"] for r in await queued(session_maker, "appointment_reminder")] == [mine.id]
