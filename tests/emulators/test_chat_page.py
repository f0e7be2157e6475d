"""The chat page in a real headless Chromium: a person's view of a conversation with the bot."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from emulators.telegram import TelegramEmulator
from tests.support.browser import browser  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from playwright.async_api import Browser

PAGE_USER = 4242
SCREENSHOT = "/tmp/chat_page.png"
HOSTILE = '<b>bold?</b> & <img src=x onerror="window.__pwned=1"> "quotes"'


def page_router() -> Router:
    router = Router()

    @router.message(F.text)
    async def answer(message: Message) -> None:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="Подтвердить", callback_data="confirm")],
                [InlineKeyboardButton(text="Сайт", url="https://example.org")],
            ]
        )
        await message.answer(
            f"Вы написали: <code>{html.escape(message.text or '')}</code>\n<b>Записать вас на приём?</b>",
            reply_markup=markup,
        )

    @router.callback_query(F.data == "confirm")
    async def confirm(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("<b>Запись подтверждена</b> ✅\n<i>Пн, 10:00</i>")
        await query.answer("Готово!")

    return router


@asynccontextmanager
async def running_bot(bot: Bot) -> AsyncIterator[None]:
    await bot.set_my_commands(
        [BotCommand(command="start", description="Начать"), BotCommand(command="help", description="Помощь")]
    )
    dp = Dispatcher()
    dp.include_router(page_router())
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        yield
    finally:
        await dp.stop_polling()
        await task


async def test_chat_page_conversation(browser: Browser, bot: Bot, emu: TelegramEmulator) -> None:  # noqa: F811
    from playwright.async_api import expect

    context = await browser.new_context(locale="ru-RU", viewport={"width": 430, "height": 820})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    try:
        async with running_bot(bot):
            await page.goto(emu.chat_url(PAGE_USER, "Ирина"))
            await expect(page.get_by_test_id("bot-name")).to_have_text("Medcab Test Bot")
            assert emu.store.users[PAGE_USER].first_name == "Ирина"
            await expect(page.get_by_test_id("commands-button")).to_be_visible()

            composer = page.get_by_test_id("composer")
            await expect(composer).to_have_attribute("placeholder", "Сообщение")
            await composer.fill(HOSTILE)
            await composer.press("Enter")

            user_message = page.locator('[data-testid="message"][data-from="user"]')
            await expect(user_message).to_have_count(1)
            await expect(user_message.get_by_test_id("message-text")).to_contain_text(HOSTILE)
            bot_message = page.locator('[data-testid="message"][data-from="bot"]')
            await expect(bot_message).to_have_count(1)
            await expect(bot_message.locator("code")).to_have_text(HOSTILE)
            await expect(bot_message.locator("b")).to_have_text("Записать вас на приём?")
            # The user's markup stayed text: no element was created from it, no script ran.
            assert await page.locator("#messages img").count() == 0
            assert await page.evaluate("window.__pwned === undefined")

            url_button = bot_message.locator('a[data-testid="inline-button"]')
            await expect(url_button).to_have_attribute("href", "https://example.org/")
            await expect(url_button).to_have_attribute("target", "_blank")
            await bot_message.locator('button[data-testid="inline-button"]').click()

            await expect(bot_message.get_by_test_id("message-text")).to_contain_text("Запись подтверждена ✅")
            await expect(bot_message.get_by_test_id("edited")).to_have_text("изменено")
            await expect(bot_message.get_by_test_id("inline-button")).to_have_count(0)
            await expect(page.get_by_test_id("toast")).to_have_text("Готово!")

            await page.get_by_test_id("commands-button").click()
            commands = page.get_by_test_id("command")
            await expect(commands).to_have_count(2)
            await expect(commands.first).to_contain_text("/start")
            await page.screenshot(path=SCREENSHOT)
            await page.get_by_test_id("commands-button").click()
            await expect(page.get_by_test_id("commands-menu")).to_be_hidden()

            # A message the bot deletes disappears from the page.
            last = emu.last_message(PAGE_USER)
            assert last is not None
            await bot.delete_message(PAGE_USER, last.message_id)
            await expect(bot_message).to_have_count(0)
        assert dialogs == []
        assert all(call.ok for call in emu.call_log())
    finally:
        await context.close()
