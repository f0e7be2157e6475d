"""Fixtures for the Telegram emulator tests: a fresh emulator per test and aiogram clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from emulators.telegram import Settings, TelegramEmulator

USER_ID = 1001


class LocalSession(AiohttpSession):
    """aiogram's session minus the 250 ms pause it takes on close for TLS connections (plain HTTP here)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(emu: TelegramEmulator, token: str | None = None) -> Bot:
    session = LocalSession(api=TelegramAPIServer.from_base(emu.base_url))
    return Bot(token or emu.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(settings=Settings(webhook_retry_initial=0.05, webhook_retry_max=0.2))
    await emulator.start(port=0)
    emulator.create_user(USER_ID, "Anna", "Petrova", "anna_p", "ru")
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    client = make_bot(emu)
    try:
        yield client
    finally:
        await client.session.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


ControlCall = Callable[..., Awaitable[tuple[int, dict]]]


@pytest.fixture
def control(emu: TelegramEmulator, http: aiohttp.ClientSession) -> ControlCall:
    """Call the control API: `status, body = await control("POST", "/users", {...})`."""

    async def call(verb: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        async with http.request(verb, f"{emu.base_url}/_emulator{path}", json=body) as response:
            return response.status, await response.json()

    return call
