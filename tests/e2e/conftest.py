"""End-to-end: the real runtime (aiogram's HTTP client, all middlewares, SQLite) against the
Telegram emulator over real HTTP, in polling and in webhook mode."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.keys import build_crypto
from bot.runner import run_polling, run_webhook
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings, load_settings
from emulators.egisz.server import EgiszEmulator
from emulators.esia.server import EsiaEmulator
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


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esia"


@dataclass
class Stack:
    telegram: TelegramEmulator
    esia: EsiaEmulator
    egisz: EgiszEmulator
    database_url: str
    http: aiohttp.ClientSession

    async def login_url(self, user_id: int) -> str:
        self.telegram.create_user(user_id, "Сергей", language_code="ru")
        self.telegram.user_sends(user_id, "/login")
        message = await self.telegram.wait_for_message(user_id, lambda m: "Госуслуг" in m.text, timeout=10)
        markup = message.reply_markup or {}
        [[button]] = markup["inline_keyboard"] if isinstance(markup, dict) else markup.inline_keyboard
        url = button["url"] if isinstance(button, dict) else button.url
        assert url and "t=" in url
        return str(url)

    async def browse(self, url: str, max_hops: int = 6) -> tuple[int, str, str]:
        """Follow redirects like a browser; returns (status, final url, body)."""
        for _ in range(max_hops):
            async with self.http.get(url, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307):
                    url = response.headers["Location"]
                    continue
                return response.status, url, await response.text()
        raise AssertionError("too many redirects")


@pytest.fixture
async def stack(tmp_path: Path, e2e_database_url: str, emulator: TelegramEmulator) -> AsyncIterator[Stack]:
    esia, egisz = EsiaEmulator(), EgiszEmulator()
    await esia.start(port=0)
    await egisz.start(port=0)
    async with aiohttp.ClientSession() as http:
        yield Stack(emulator, esia, egisz, e2e_database_url, http)
    await esia.stop()
    await egisz.stop()


async def identity_settings(stack: Stack, tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    # ESIA's token-signing certificate, downloaded the way an operator would get it.
    token_key = tmp_path / "esia.pem"
    async with stack.http.get(stack.esia.base_url + "/public/esia.pem") as response:
        token_key.write_bytes(await response.read())
    base = e2e_settings(stack.telegram, stack.database_url)
    values = base.model_dump()
    values.update(
        public_url=f"http://127.0.0.1:{base.web_port}",
        updates="polling",
        esia_url=stack.esia.base_url,
        esia={
            "key_path": FIXTURES / "client.key",
            "cert_path": FIXTURES / "client.pem",
            "token_keys": str(token_key),
            "issuer": stack.esia.settings.issuer,
            "timeout_seconds": 2.0,
        },
        frmr={"url": stack.egisz.base_url, "api_key": "medcab-egisz-test-key"},
        **overrides,
    )
    return load_settings(**values)


async def raw_rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()
