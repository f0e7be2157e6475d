"""Running a built runtime: the web app always, and either long polling or a webhook."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from aiogram.types import BotCommandScopeDefault
from aiohttp import web

from bot.background import background_jobs
from bot.runtime import Runtime
from bot.web import WEBHOOK_PATH, build_web_app
from handlers.commands import bot_commands

logger = logging.getLogger(__name__)


async def register_commands(runtime: Runtime) -> None:
    """The command menu in both languages; the default (no language) is the clinic's default."""
    bot, i18n = runtime.bot, runtime.i18n
    await bot.set_my_commands(bot_commands(i18n, i18n.default_locale), scope=BotCommandScopeDefault())
    for locale in ("ru", "en"):
        await bot.set_my_commands(bot_commands(i18n, locale), scope=BotCommandScopeDefault(), language_code=locale)


@asynccontextmanager
async def serve_web(runtime: Runtime, *, webhook: bool, host: str, port: int) -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(build_web_app(runtime, webhook=webhook), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield runner
    finally:
        await runner.cleanup()


def _background(runtime: Runtime) -> AbstractAsyncContextManager[object]:
    return background_jobs(runtime) if runtime.settings.notifications.worker else nullcontext()


def bound_port(runner: web.AppRunner) -> int:
    """The port the web app really listens on (the setting may be 0 in tests)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("web app is not listening")


async def run_polling(
    runtime: Runtime, stop: asyncio.Event | None = None, ready: Callable[[], None] | None = None
) -> None:
    settings = runtime.settings
    async with (
        serve_web(runtime, webhook=False, host=settings.web_host, port=settings.web_port),
        _background(runtime),
    ):
        # A webhook left from an earlier deployment would make getUpdates fail with 409.
        await runtime.bot.delete_webhook(drop_pending_updates=False)
        await register_commands(runtime)
        dp = runtime.dispatcher
        polling = asyncio.create_task(
            dp.start_polling(
                runtime.bot,
                polling_timeout=settings.polling_timeout,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=dp.resolve_used_update_types(),
            )
        )
        if ready is not None:
            ready()
        stopper = stop or _signal_event()
        await stopper.wait()
        await dp.stop_polling()
        await polling


async def run_webhook(
    runtime: Runtime, stop: asyncio.Event | None = None, ready: Callable[[], None] | None = None
) -> None:
    settings = runtime.settings
    assert settings.public_url is not None
    async with (
        serve_web(runtime, webhook=True, host=settings.web_host, port=settings.web_port),
        _background(runtime),
    ):
        await register_commands(runtime)
        dp = runtime.dispatcher
        await dp.emit_startup(bot=runtime.bot)
        await runtime.bot.set_webhook(
            settings.public_url + WEBHOOK_PATH,
            secret_token=runtime.webhook_secret,
            allowed_updates=dp.resolve_used_update_types(),
        )
        logger.info("webhook registered at %s", settings.public_url + WEBHOOK_PATH)
        if ready is not None:
            ready()
        try:
            await (stop or _signal_event()).wait()
        finally:
            await dp.emit_shutdown(bot=runtime.bot)


def _signal_event() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)
    return event
