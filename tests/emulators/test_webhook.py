"""Webhook delivery to aiogram's SimpleRequestHandler, including a method returned in the response."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from emulators.telegram import TelegramEmulator
from tests.emulators.conftest import USER_ID

SECRET = "s3cret_token-1"


def reply_router() -> Router:
    router = Router()

    @router.message(F.text)
    async def reply(message: Message) -> SendMessage:
        # Returned, not awaited: aiogram puts the call in the webhook response.
        return message.answer(f"webhook echo: {html.escape(message.text or '')}")

    return router


@asynccontextmanager
async def webhook_app(bot: Bot, secret: str) -> AsyncIterator[str]:
    dp = Dispatcher()
    dp.include_router(reply_router())
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=False).register(
        app, path="/webhook"
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        await runner.cleanup()


async def test_webhook_delivery_with_secret_and_reply_method(bot: Bot, emu: TelegramEmulator) -> None:
    async with webhook_app(bot, SECRET) as url:
        assert await bot.set_webhook(url, secret_token=SECRET, drop_pending_updates=True)
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0

        emu.user_sends(USER_ID, "Здравствуйте <доктор>")
        reply = await emu.wait_for_message(USER_ID)
        assert reply.text == "webhook echo: Здравствуйте <доктор>"

        delivery = emu.webhook_deliveries()[-1]
        assert delivery.ok and delivery.status == 200 and delivery.reply_method == "sendMessage"
        applied = emu.call_log("sendMessage")[-1]
        assert applied.source == "webhook_reply" and applied.ok
        assert (await bot.get_webhook_info()).pending_update_count == 0

        with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_wrong_secret_is_retried_and_reported(bot: Bot, emu: TelegramEmulator) -> None:
    async with webhook_app(bot, "the-right-one") as url:
        await bot.set_webhook(url, secret_token="a-wrong-one")
        emu.user_sends(USER_ID, "hello")
        emu.user_sends(USER_ID, "second")
        await emu.notifier.wait_for(lambda: len(emu.webhook_deliveries()) >= 3, 5)
        deliveries = emu.webhook_deliveries()
        # One update at a time, in order: the first is retried, the second waits behind it.
        assert {d.update_id for d in deliveries} == {deliveries[0].update_id}
        assert all(d.status == 401 for d in deliveries)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 2
        assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
        assert info.last_error_date is not None

        # Fixing the secret lets the queued updates through in order.
        await bot.set_webhook(url, secret_token="the-right-one")
        await emu.wait_for_message(USER_ID, lambda m: m.text == "webhook echo: second")
        texts = [m.text for m in emu.bot_messages(USER_ID)]
        assert texts == ["webhook echo: hello", "webhook echo: second"]


async def test_unreachable_webhook_keeps_updates(bot: Bot, emu: TelegramEmulator) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    emu.user_sends(USER_ID, "anyone there?")
    await emu.notifier.wait_for(lambda: len(emu.webhook_deliveries()) >= 2, 5)
    assert emu.webhook_deliveries()[0].error == "Connection refused"
    assert (await bot.get_webhook_info()).pending_update_count == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_set_webhook_validation(bot: Bot) -> None:
    from aiogram.exceptions import TelegramBadRequest

    with pytest.raises(TelegramBadRequest, match="secret token"):
        await bot.set_webhook("https://example.org/hook", secret_token="has spaces")
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("ftp://example.org/hook")
