"""AiogramTransport: Telegram's answers, as aiogram raises them, become SendOutcomes; and the
scheduler wiring (timers only, in-memory store, explicit ids)."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from bot.notifications import DELIVERY_JOB_ID, AiogramTransport, Rendered, build_scheduler
from emulators.telegram.limits import Fault
from emulators.telegram.server import TelegramEmulator
from services.notifications.delivery import BadRequest, Forbidden, RetryAfter, Sent, Transient
from storage.models import Notification

CHAT = 820_001


def note(text: str = "<b>5 < 6</b>") -> Notification:
    return Notification(id=1, chat_id=CHAT, kind="test", urgency="routine", payload={"text": text})


async def test_outcomes_from_telegram_answers(emulator: TelegramEmulator, bot: Bot) -> None:
    emulator.create_user(CHAT, "Doctor")
    transport = AiogramTransport(bot)

    sent = await transport.send(note(), silent=True)
    assert isinstance(sent, Sent)
    (message,) = emulator.bot_messages(CHAT)
    assert message.message_id == sent.message_id
    assert message.text == "<b>5 < 6</b>"  # escaped, shown as typed
    assert message.disable_notification is True

    cases = [
        (Fault.too_many_requests(3), RetryAfter(3.0)),
        (Fault.bad_request("message is too long"), BadRequest("Bad Request: message is too long")),
        (Fault.server_error(), Transient),
        (Fault.bad_gateway(), Transient),
        (Fault.disconnect(), Transient),
        (Fault.forbidden(), Forbidden("Forbidden: bot was blocked by the user")),
    ]
    for fault, expected in cases:
        emulator.inject_fault("sendMessage", fault)
        outcome = await transport.send(note(), silent=False)
        if isinstance(expected, type):
            assert isinstance(outcome, expected), (fault, outcome)
        else:
            assert outcome == expected, (fault, outcome)

    emulator.block(CHAT)
    assert isinstance(await transport.send(note(), silent=False), Forbidden)


async def test_an_async_renderer_with_buttons(emulator: TelegramEmulator, bot: Bot) -> None:
    emulator.create_user(CHAT, "Doctor")

    async def render(n: Notification) -> Rendered:
        button = InlineKeyboardButton(text="Open", callback_data=f"open:{n.id}")
        return f"Reminder {n.id}", InlineKeyboardMarkup(inline_keyboard=[[button]])

    outcome = await AiogramTransport(bot, render).send(note(), silent=False)
    assert isinstance(outcome, Sent)
    message = emulator.last_message(CHAT)
    assert message is not None and message.text == "Reminder 1"
    assert message.reply_markup is not None


async def test_scheduler_runs_timers_with_explicit_ids_one_at_a_time() -> None:
    ran: dict[str, int] = {"tick": 0, "scan": 0}
    both = asyncio.Event()

    async def tick() -> None:
        ran["tick"] += 1
        await asyncio.sleep(0.15)  # longer than the interval: overlapping runs are skipped
        if ran["scan"]:
            both.set()

    async def scan() -> None:
        ran["scan"] += 1

    scheduler = build_scheduler(
        "Asia/Vladivostok",
        tick,
        {"scan.cme_deadlines": (scan, IntervalTrigger(seconds=0.05))},
        tick_seconds=0.05,
    )
    assert {job.id for job in scheduler.get_jobs()} == {DELIVERY_JOB_ID, "scan.cme_deadlines"}
    assert str(scheduler.timezone) == "Asia/Vladivostok"
    scheduler.start()
    try:
        delivery = scheduler.get_job(DELIVERY_JOB_ID)
        assert delivery.max_instances == 1 and delivery.coalesce is True
        async with asyncio.timeout(5):
            await both.wait()
    finally:
        scheduler.shutdown(wait=False)
    assert ran["scan"] >= 1
    assert ran["tick"] >= 1


def test_scan_ids_must_not_take_the_delivery_id() -> None:
    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="delivery"):
        build_scheduler("UTC", job, {DELIVERY_JOB_ID: (job, IntervalTrigger(seconds=1))})
