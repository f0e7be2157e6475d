"""Two bot processes behind a load balancer: Redis shares FSM state and seen update ids."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import SendMessage
from redis.asyncio import Redis

from bot.dispatcher import build_dispatcher
from bot.i18n import make_i18n
from bot.middlewares.dedup import RedisSeenUpdates
from services.preferences import LanguageCache
from storage.db import create_engine, make_session_maker
from storage.fsm import make_redis_storage
from tests.flow.conftest import LOCALES
from tests.support import updates
from tests.support.fake_session import FakeSession, make_fake_bot


class Conversation(StatesGroup):
    step = State()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_two_processes_share_state_and_handle_each_update_once(redis: Redis, database_url: str) -> None:
    prefix = f"medcab-test-{secrets.token_hex(4)}"
    engine = create_engine(database_url)
    session_maker = make_session_maker(engine)
    processes = []
    for _ in range(2):
        storage = make_redis_storage(redis, prefix=prefix + ":fsm")
        dp = build_dispatcher(
            session_maker=session_maker,
            i18n=make_i18n(LOCALES),
            fsm_storage=storage,
            seen_updates=RedisSeenUpdates(redis, prefix=prefix + ":update"),
            language_cache=LanguageCache(),
        )
        session = FakeSession()
        processes.append((dp, make_fake_bot(session), session, storage))
    try:
        # The load balancer hands the same (retried) update to both processes: one answer.
        update = updates.message("/help", user_id=9101, update_id=424_242)
        for dp, bot, _, _ in processes:
            await dp.feed_update(bot, update)
        answers = sum(len(session.sent(SendMessage)) for _, _, session, _ in processes)
        assert answers == 1

        # A conversation started on one process is cancelled on the other.
        (_, bot_a, _, storage_a), (dp_b, bot_b, session_b, _) = processes
        key = StorageKey(bot_id=bot_a.id, chat_id=9101, user_id=9101)
        await storage_a.set_state(key, Conversation.step)
        await dp_b.feed_update(bot_b, updates.message("/cancel", user_id=9101))
        assert session_b.texts()[0] == "Действие отменено."
        assert await storage_a.get_state(key) is None
    finally:
        for _, bot, _, _ in processes:
            await bot.session.close()
        await engine.dispose()
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
