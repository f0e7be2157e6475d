"""Flood limits and injected faults, seen through aiogram's typed exceptions."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from emulators.telegram import Fault, TelegramEmulator
from tests.emulators.conftest import USER_ID


async def test_per_chat_limit_answers_429_with_retry_after(bot: Bot, emu: TelegramEmulator) -> None:
    emu.set_limits(per_chat_per_second=2)
    await bot.send_message(USER_ID, "1")
    await bot.send_message(USER_ID, "2")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER_ID, "3")
    assert caught.value.retry_after == 1
    assert "Too Many Requests: retry after 1" in caught.value.message
    # Other chats and non-sending methods are not affected.
    emu.create_user(2002, "Boris")
    await bot.send_message(2002, "other chat")
    await bot.get_me()
    emu.advance_time(1.1)
    await bot.send_message(USER_ID, "after the window")
    refused = emu.call_log("sendMessage", ok=False)
    assert [(r.status, r.retry_after) for r in refused] == [(429, 1)]


async def test_global_limit(bot: Bot, emu: TelegramEmulator) -> None:
    emu.set_limits(global_per_second=3)
    for user_id in (11, 12, 13, 14):
        emu.create_user(user_id)
    for user_id in (11, 12, 13):
        await bot.send_message(user_id, "broadcast")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(14, "broadcast")


async def test_per_minute_limit_reports_longer_wait(bot: Bot, emu: TelegramEmulator) -> None:
    emu.set_limits(per_chat_per_minute=2)
    await bot.send_message(USER_ID, "1")
    emu.advance_time(10)
    await bot.send_message(USER_ID, "2")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER_ID, "3")
    assert caught.value.retry_after == 50


async def test_limits_are_off_by_default(bot: Bot) -> None:
    await asyncio.gather(*(bot.send_message(USER_ID, str(i)) for i in range(40)))


async def test_injected_faults_in_order(bot: Bot, emu: TelegramEmulator) -> None:
    emu.inject_fault("sendMessage", Fault.too_many_requests(7))
    emu.inject_fault("sendMessage", Fault.bad_request("message thread not found"))
    emu.inject_fault("sendMessage", Fault.forbidden())
    emu.inject_fault("sendMessage", Fault.server_error())
    emu.inject_fault("sendMessage", Fault.bad_gateway())
    emu.inject_fault("sendMessage", Fault.disconnect())
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(USER_ID, "x")
    assert retry.value.retry_after == 7
    with pytest.raises(TelegramBadRequest, match="Bad Request: message thread not found"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER_ID, "x")
    sent = await bot.send_message(USER_ID, "finally")
    assert sent.text == "finally"
    assert [r.status for r in emu.call_log("sendMessage")] == [429, 400, 403, 500, 502, 0, 200]
    # Faults touch only the method they were injected for.
    await bot.get_me()


async def test_slow_fault_delays_the_answer(bot: Bot, emu: TelegramEmulator) -> None:
    emu.inject_fault("getMe", Fault.slow(0.3), times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.get_me()
    assert loop.time() - started >= 0.3
    started = loop.time()
    await bot.get_me()
    assert loop.time() - started < 0.3


async def test_random_faults_are_reproducible_with_a_seed(bot: Bot, emu: TelegramEmulator) -> None:
    async def run() -> list[int]:
        emu.calls.clear()
        emu.set_random_faults(0.5, seed=42, methods=["getMe"], faults=[Fault.server_error()])
        for _ in range(20):
            with contextlib.suppress(TelegramServerError):
                await bot.get_me()
        return [r.status for r in emu.call_log("getMe")]

    first, second = await run(), await run()
    assert first == second
    assert 500 in first and 200 in first
    emu.clear_faults()
    await bot.get_me()
