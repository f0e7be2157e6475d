"""Updates per second: aiogram's bare dispatcher (echo) vs our full stack answering the main menu.

Both run in the same process and the same run, fed with ``dp.feed_update`` and an in-process
Bot API session, so the ratio measures our middlewares, routers, database and i18n, not the
network. The last line is ``bare_ups=… full_ups=… ratio=…`` for comparing runs over time.

    .venv/bin/python -m bench.dispatch [--updates 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aiogram import Dispatcher, Router
from aiogram.types import Message, Update

from bot.keys import Crypto
from bot.middlewares.services import ServicesMiddleware
from handlers.callbacks import MenuAction, MenuCallback
from services.identity.access import SecurityPolicy
from storage.crypto import BlindIndex, FieldCipher, generate_key
from storage.db import create_engine, make_session_maker
from storage.fsm import SQLStorage
from storage.migrate import upgrade
from tests.support.dispatcher import production_dispatcher
from tests.support.fake_session import FakeSession, make_fake_bot
from tests.support.updates import callback, message

LOCALES = Path(__file__).resolve().parent.parent / "locales"
USERS = 200


async def _measure(dp: Dispatcher, updates: list[Update]) -> float:
    bot = make_fake_bot(FakeSession(record=False))
    # Warm-up: caches, compiled SQL, imports; not measured.
    for update in updates[:USERS]:
        await dp.feed_update(bot, update)
    measured = updates[USERS:]
    start = time.perf_counter()
    for update in measured:
        await dp.feed_update(bot, update)
    elapsed = time.perf_counter() - start
    await bot.session.close()
    return len(measured) / elapsed


def bare_dispatcher() -> Dispatcher:
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    dp = Dispatcher()
    dp.include_router(router)
    return dp


async def main(count: int) -> None:
    bare_updates = [message(f"text {i}", user_id=5000 + i % USERS) for i in range(count + USERS)]
    bare_ups = await _measure(bare_dispatcher(), bare_updates)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        engine = create_engine(url)
        session_maker = make_session_maker(engine)
        storage = SQLStorage(session_maker)
        crypto = Crypto(FieldCipher({"b1": generate_key()}, "b1"), BlindIndex(generate_key()))
        dp = production_dispatcher(session_maker, storage, ServicesMiddleware(crypto, None, SecurityPolicy()))
        full_updates = [message("/menu", user_id=5000 + i % USERS) for i in range(count + USERS)]
        full_ups = await _measure(dp, full_updates)
        menu = MenuCallback(action=MenuAction.MAIN).pack()
        button_updates = [callback(menu, user_id=5000 + i % USERS, message_id=7) for i in range(count + USERS)]
        button_ups = await _measure(dp, button_updates)
        start_updates = [message("/start", user_id=5000 + i % USERS) for i in range(count // 3 + USERS)]
        start_ups = await _measure(dp, start_updates)
        await storage.close()
        await engine.dispose()

    ratio = full_ups / bare_ups
    print(f"bare aiogram echo:          {bare_ups:8.0f} updates/s")
    print(f"full stack, /menu:          {full_ups:8.0f} updates/s  ({ratio:.0%} of bare; target ≥ 40%)")
    print(
        f"full stack, «В меню» button: {button_ups:7.0f} updates/s  ({button_ups / bare_ups:.0%} of bare; edit + answer)"
    )
    print(f"full stack, /start (write): {start_ups:8.0f} updates/s  ({start_ups / bare_ups:.0%} of bare)")
    print(
        f"bare_ups={bare_ups:.0f} full_ups={full_ups:.0f} button_ups={button_ups:.0f} "
        f"start_ups={start_ups:.0f} ratio={ratio:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=3000)
    asyncio.run(main(parser.parse_args().updates))
