"""End-to-end: the real runtime (aiogram's HTTP client, all middlewares, SQLite) against the
Telegram emulator over real HTTP, in polling and in webhook mode."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.keys import build_crypto
from bot.runner import run_polling, run_webhook
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings, load_settings
from emulators.telegram.server import TelegramEmulator
from storage.crypto import generate_key_b64

TOKEN = "987654321:E2E-medcab-emulator-token-abcdef"


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(TOKEN, "medcab_e2e_bot", "Кабинет врача")
    await emu.start(port=0)
    yield emu
    await emu.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def e2e_settings(emulator: TelegramEmulator, database_url: str, **overrides: object) -> Settings:
    return load_settings(
        bot_token=TOKEN,
        telegram_api_url=emulator.base_url,
        database_url=database_url,
        web_host="127.0.0.1",
        web_port=free_port(),
        polling_timeout=1,
        security={"data_keys": f"k1:{generate_key_b64()}", "active_key_id": "k1", "index_key": generate_key_b64()},
        **overrides,
    )




@asynccontextmanager
async def running_bot(settings: Settings, mode: str) -> AsyncIterator[Runtime]:
    """The bot running in ``mode`` ("polling" or "webhook") until the block ends."""
    stop = asyncio.Event()
    ready = asyncio.Event()
    async with build_runtime(settings, TOKEN, build_crypto(settings)) as runtime:
        if mode == "polling":
            task = asyncio.create_task(run_polling(runtime, stop, ready=ready.set))
        else:
            task = asyncio.create_task(run_webhook(runtime, stop, ready=ready.set))
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, ready_wait}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready_wait.cancel()
            task.result()  # raises what went wrong
        assert ready_wait in done, "the bot did not start in 15 s"
        try:
            yield runtime
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


@pytest.fixture
def e2e_database_url(sqlite_url: str) -> str:
    return sqlite_url


