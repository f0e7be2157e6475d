"""The whole sign-in as a person does it in the browser: chat page → Gosuslugi page → back to the chat."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.e2e.conftest import Stack, identity_settings, running_bot
from tests.support.browser import browser  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from playwright.async_api import Browser

USER = 626_262


async def test_doctor_signs_in_with_gosuslugi_from_the_chat_page(
    browser: Browser,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(locale="ru-RU", viewport={"width": 430, "height": 900})
    page = await context.new_page()
    try:
        async with running_bot(await identity_settings(stack, tmp_path), "polling") as runtime:
            runtime.back_url = stack.telegram.chat_url(USER, "Сергей")
            await page.goto(stack.telegram.chat_url(USER, "Сергей"))
            await page.get_by_test_id("composer").fill("/start")
            await page.get_by_test_id("send").click()
            bot_messages = page.locator('[data-testid="message"][data-from="bot"]')
            login = bot_messages.filter(has_text="Вход через Госуслуги")
            await expect(login).to_have_count(1)

            # The URL button opens the Gosuslugi page in a new tab, as Telegram opens a browser.
            async with context.expect_page() as popup_info:
                await login.locator('a[data-testid="inline-button"]').click()
            esia_page = await popup_info.value
            await esia_page.wait_for_load_state()
            await esia_page.locator('button.persona[value="ivanov"]').click()
            result = esia_page.get_by_test_id("result")
            await expect(result).to_have_attribute("data-outcome", "ok")
            await expect(result).to_contain_text("Вход выполнен")
            await esia_page.screenshot(path="/tmp/esia_result.png")
            await expect(esia_page.get_by_test_id("back")).to_have_attribute(
                "href", stack.telegram.chat_url(USER, "Сергей")
            )
            await esia_page.close()

            linked = bot_messages.filter(has_text="Аккаунт связан")
            await expect(linked).to_have_count(1)
            await expect(linked).to_contain_text("Иванов С. А.")
            await linked.locator('button[data-testid="inline-button"]', has_text="Согласен").click()
            await expect(bot_messages.filter(has_text="Придумайте PIN-код")).to_have_count(1)

            composer = page.get_by_test_id("composer")
            for _ in range(2):
                await composer.fill("2580")
                await composer.press("Enter")
            await expect(bot_messages.filter(has_text="PIN-код сохранён")).to_have_count(1)
            # The PIN messages were deleted from the chat.
            await expect(page.locator('[data-testid="message"][data-from="user"]', has_text="2580")).to_have_count(0)
            await page.screenshot(path="/tmp/chat_page_linked.png")
    finally:
        await context.close()
