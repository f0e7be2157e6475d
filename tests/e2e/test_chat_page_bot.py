"""A person uses the real bot through the chat page in headless Chromium: /start, a button, the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulators.telegram.server import TelegramEmulator
from tests.e2e.conftest import e2e_settings, running_bot
from tests.support.browser import browser  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from playwright.async_api import Browser

USER = 515_151


async def test_doctor_uses_the_bot_in_the_chat_page(
    browser: Browser,  # noqa: F811
    emulator: TelegramEmulator,
    e2e_database_url: str,
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(locale="ru-RU", viewport={"width": 430, "height": 860})
    page = await context.new_page()
    try:
        async with running_bot(e2e_settings(emulator, e2e_database_url), "polling"):
            await page.goto(emulator.chat_url(USER, "Ольга"))
            composer = page.get_by_test_id("composer")
            await composer.fill("/start")
            await page.get_by_test_id("send").click()

            bot_messages = page.locator('[data-testid="message"][data-from="bot"]')
            greeting = bot_messages.first
            await expect(greeting.get_by_test_id("message-text")).to_contain_text("Здравствуйте, Ольга!")
            await expect(greeting.locator("b").first).to_have_text("Кабинет врача")

            await greeting.locator('button[data-testid="inline-button"]', has_text="Справка").click()
            await expect(greeting.get_by_test_id("message-text")).to_contain_text("/cancel — прервать")
            await greeting.locator('button[data-testid="inline-button"]', has_text="В меню").click()
            await expect(greeting.get_by_test_id("message-text")).to_contain_text("Главное меню")

            await composer.fill("<i>что это?</i>")
            await composer.press("Enter")
            await expect(bot_messages).to_have_count(2)
            await expect(bot_messages.nth(1).get_by_test_id("message-text")).to_contain_text(
                "Я не понял сообщение. Выберите действие в меню или отправьте /help."
            )

            await page.get_by_test_id("commands-button").click()
            commands = page.get_by_test_id("command")
            await expect(commands).to_have_count(17)
            await expect(commands.first).to_contain_text("Главное меню")
            await page.get_by_test_id("commands-button").click()
            await page.screenshot(path="/tmp/chat_page_bot.png")
    finally:
        await context.close()
