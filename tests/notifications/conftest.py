"""The Telegram emulator and aiogram's real HTTP client pointed at it, for the delivery tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from emulators.telegram.server import TelegramEmulator
from tests.notifications.support import TOKEN


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(TOKEN, "medcab_notify_bot", "Кабинет врача")
    await emu.start(port=0)
    yield emu
    await emu.stop()


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    yield client
    await client.session.close()
