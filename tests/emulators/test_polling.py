"""Long polling with aiogram's Dispatcher, updates semantics and callback queries."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramConflictError
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from emulators.telegram import TelegramEmulator
from tests.emulators.conftest import USER_ID


def echo_router() -> Router:
    """Built per test: a Router can belong to one Dispatcher only."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Да", callback_data="confirm:1")]])
        await message.answer("Подтвердите", reply_markup=markup)

    @router.message(F.text)
    async def echo(message: Message) -> None:
        # The bot sends HTML (DefaultBotProperties), so user text must be escaped, or Telegram says 400.
        await message.answer(f"echo: {html.escape(message.text or '')}")

    @router.message(F.sticker)
    async def sticker(message: Message) -> None:
        await message.answer(f"sticker {message.sticker.emoji if message.sticker else ''}")

    @router.callback_query(F.data.startswith("confirm:"))
    async def confirm(query: CallbackQuery) -> None:
        assert query.chat_instance
        assert isinstance(query.message, Message)
        await query.message.edit_text("Подтверждено ✅")
        await query.answer("Готово")

    return router


@asynccontextmanager
async def polling(bot: Bot) -> AsyncIterator[Dispatcher]:
    dp = Dispatcher()
    dp.include_router(echo_router())
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        yield dp
    finally:
        await dp.stop_polling()
        await task


async def test_echo_through_long_polling(bot: Bot, emu: TelegramEmulator) -> None:
    async with polling(bot):
        emu.user_sends(USER_ID, "Привет <b>&")
        reply = await emu.wait_for_message(USER_ID)
        assert reply.text == "echo: Привет <b>&"
        emu.user_sends(USER_ID, sticker="🩺")
        assert (await emu.wait_for_message(USER_ID)).text == "sticker 🩺"


async def test_idle_polling_does_not_spin(bot: Bot, emu: TelegramEmulator) -> None:
    async with polling(bot):
        await emu.wait_for_calls("getUpdates", 1, include_active=True)
        await asyncio.sleep(1.0)
        # One long poll is waiting; an emulator without long polling would have seen hundreds.
        assert emu.active_calls("getUpdates") == 1
        assert len(emu.call_log("getUpdates")) <= 1


async def test_callback_query_reaches_handler_and_is_answered(bot: Bot, emu: TelegramEmulator) -> None:
    async with polling(bot):
        emu.user_sends(USER_ID, "/start")
        question = await emu.wait_for_message(USER_ID)
        assert question.reply_markup is not None
        query = emu.press_button(USER_ID, question.message_id, "confirm:1")
        edited = await emu.wait_for_message(USER_ID, lambda m: m.edit_date is not None)
        assert edited.message_id == question.message_id
        assert edited.text == "Подтверждено ✅" and edited.reply_markup is None
        await emu.wait_for_calls("answerCallbackQuery")
        assert query.answer is not None and query.answer["text"] == "Готово"
    assert all(call.ok for call in emu.call_log())


async def test_pressing_a_missing_button_needs_forge(bot: Bot, emu: TelegramEmulator) -> None:
    from emulators.telegram import ControlError

    sent = await bot.send_message(USER_ID, "no buttons")
    with pytest.raises(ControlError) as refused:
        emu.press_button(USER_ID, sent.message_id, "admin:delete")
    assert refused.value.status == 409
    forged = emu.press_button(USER_ID, sent.message_id, "admin:delete", forge=True)
    update = (await bot.get_updates())[-1]
    assert update.callback_query is not None
    assert update.callback_query.id == forged.id
    assert update.callback_query.data == "admin:delete"


async def test_get_updates_offset_limit_and_allowed_updates(bot: Bot, emu: TelegramEmulator) -> None:
    for text in ("one", "two", "three"):
        emu.user_sends(USER_ID, text)
    updates = await bot.get_updates(limit=2)
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    ids = [u.update_id for u in updates]
    assert ids[1] == ids[0] + 1
    # Without an offset nothing is confirmed.
    assert len(await bot.get_updates()) == 3
    rest = await bot.get_updates(offset=ids[1] + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == []
    # A negative offset keeps only the last -offset updates.
    for text in ("a", "b", "c"):
        emu.user_sends(USER_ID, text)
    assert [u.message.text for u in await bot.get_updates(offset=-1) if u.message] == ["c"]
    await bot.get_updates(offset=-1, allowed_updates=["callback_query"])
    emu.user_sends(USER_ID, "filtered out")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["c"]


async def test_updates_expire_after_24_hours(bot: Bot, emu: TelegramEmulator) -> None:
    emu.user_sends(USER_ID, "old")
    emu.advance_time(24 * 3600 + 1)
    emu.user_sends(USER_ID, "new")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["new"]


async def test_long_poll_is_woken_by_a_new_update(bot: Bot, emu: TelegramEmulator) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for_calls("getUpdates", 1, include_active=True)
    emu.user_sends(USER_ID, "wake up")
    updates = await poll
    assert updates and updates[0].message and updates[0].message.text == "wake up"
    assert loop.time() - started < 2


async def test_second_poller_terminates_the_first(bot: Bot, emu: TelegramEmulator) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    assert await second == []


async def test_blocking_sends_my_chat_member(bot: Bot, emu: TelegramEmulator) -> None:
    emu.block(USER_ID)
    update = (await bot.get_updates())[-1]
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"


async def test_user_media_updates_validate(bot: Bot, emu: TelegramEmulator) -> None:
    emu.user_sends(USER_ID, photo={"data": b"\x89PNG fake"}, caption="снимок")
    emu.user_sends(USER_ID, voice={"duration": 7})
    emu.user_sends(USER_ID, document={"file_name": "анализы.pdf", "data": b"%PDF-1.4"})
    emu.user_sends(USER_ID, contact={"phone_number": "+79990000000"})
    emu.user_sends(USER_ID, "/help@medcab_test_bot now")
    messages = [u.message for u in await bot.get_updates() if u.message]
    assert messages[0].photo and messages[0].caption == "снимок"
    assert messages[1].voice and messages[1].voice.duration == 7
    assert messages[2].document and messages[2].document.file_name == "анализы.pdf"
    file = await bot.get_file(messages[2].document.file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"%PDF-1.4"
    assert messages[3].contact and messages[3].contact.phone_number == "+79990000000"
    assert messages[4].entities and messages[4].entities[0].type == "bot_command"
    assert messages[4].entities[0].length == len("/help@medcab_test_bot")
