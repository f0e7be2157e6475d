"""Preferences applied on delivery, through the emulator: quiet hours in the doctor's time zone hold
routine items until the window ends while urgent ones go through; a kind turned off is cancelled;
silent routine messages arrive with disable_notification."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifications import AiogramTransport
from emulators.telegram.server import TelegramEmulator
from services.notifications.delivery import DeliveryPolicy, DeliveryService
from services.notifications.pacing import InProcessRateLimiter, Rates
from storage.models import CANCELLED, PENDING, ROUTINE, SENT, URGENT, Doctor
from storage.repositories.notification_preferences import NotificationPreferencesRepository
from storage.repositories.outbox import OutboxItem
from tests.notifications.clock import ShiftedClock
from tests.notifications.support import all_rows, create_users, enqueue
from tests.notifications.test_preferences import VLADIVOSTOK

NOW = datetime(2025, 1, 15, 14, 30, tzinfo=UTC)  # 00:30 on the 16th in Vladivostok, 17:30 in Moscow


async def add_doctor(session: AsyncSession, name: str) -> int:
    doctor = Doctor(last_name=name, first_name="Test")
    session.add(doctor)
    await session.flush()
    return doctor.id


async def test_quiet_hours_disabled_kinds_and_silent_routine(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    night_owl, picky, quiet = 810_001, 810_002, 810_003
    create_users(emulator, [night_owl, picky, quiet])
    async with session_maker() as session:
        a, b, c = [await add_doctor(session, n) for n in ("Vladivostok", "Picky", "Silent")]
        prefs = NotificationPreferencesRepository(session)
        await prefs.update(a, timezone="Asia/Vladivostok", quiet_start=time(22), quiet_end=time(8), silent_routine=True)
        await prefs.update(b, quiet_enabled=False, disabled_kinds=["cme_deadline"])
        await prefs.update(c, quiet_enabled=False, silent_routine=True)
        await session.commit()

    def item(chat: int, doctor: int, key: str, kind: str, urgency: str = ROUTINE) -> OutboxItem:
        return OutboxItem(chat, kind, key, NOW, urgency=urgency, payload={"text": key}, doctor_id=doctor)

    await enqueue(
        session_maker,
        [
            item(night_owl, a, "held", "appointment_reminder"),
            item(night_owl, a, "urgent", "change_request", URGENT),
            item(picky, b, "unwanted", "cme_deadline"),
            item(picky, b, "wanted", "morning_brief"),
            item(quiet, c, "muted", "morning_brief"),
            item(quiet, c, "loud", "change_request", URGENT),
        ],
    )
    svc = DeliveryService(
        session_maker,
        AiogramTransport(bot),
        InProcessRateLimiter(Rates(100, 10)),
        DeliveryPolicy(lease=timedelta(seconds=30), lease_margin=timedelta(seconds=10)),
        clock=ShiftedClock(NOW),
    )
    async with asyncio.timeout(20):
        await svc.run(asyncio.Event(), interval=0.02, drain=True)

    rows = {r.dedup_key: r for r in await all_rows(session_maker)}
    held = rows["held"]
    assert held.status == PENDING and held.attempts == 0
    assert held.next_attempt_at == datetime(2025, 1, 15, 22, 0, tzinfo=UTC)
    assert held.next_attempt_at.astimezone(VLADIVOSTOK) == datetime(2025, 1, 16, 8, 0, tzinfo=VLADIVOSTOK)
    assert rows["urgent"].status == SENT
    assert rows["unwanted"].status == CANCELLED
    assert {rows[k].status for k in ("wanted", "muted", "loud")} == {SENT}

    silent = {m.text: m.disable_notification for chat in (night_owl, picky, quiet) for m in emulator.bot_messages(chat)}
    assert silent == {"urgent": False, "wanted": False, "muted": True, "loud": False}
