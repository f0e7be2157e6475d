"""FSM storage: SQL (default, survives restarts, cached) and Redis (scale-out)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, make_session_maker
from storage.fsm import SQLStorage, make_redis_storage
from storage.models import FSMState

KEY = StorageKey(bot_id=42, chat_id=7_000_000_001, user_id=7_000_000_001)
OTHER = StorageKey(bot_id=42, chat_id=7_000_000_002, user_id=7_000_000_002)


class Prescription(StatesGroup):
    drug = State()
    dose = State()


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def storage(session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[SQLStorage]:
    storage = SQLStorage(session_maker)
    yield storage
    await storage.close()


async def _rows(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return int(await session.scalar(select(func.count()).select_from(FSMState)) or 0)


async def test_state_and_data(storage: SQLStorage) -> None:
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}
    await storage.set_state(KEY, Prescription.drug)
    assert await storage.get_state(KEY) == "Prescription:drug"
    await storage.set_data(KEY, {"drug": "Амоксициллин", "ids": [1, 2], "nested": {"ok": True, "x": None}})
    assert await storage.update_data(KEY, {"dose": 2.5}) == {
        "drug": "Амоксициллин",
        "ids": [1, 2],
        "nested": {"ok": True, "x": None},
        "dose": 2.5,
    }
    await storage.set_state(KEY, "Prescription:dose")
    assert await storage.get_state(KEY) == "Prescription:dose"
    assert await storage.get_value(KEY, "dose") == 2.5
    assert await storage.get_state(OTHER) is None and await storage.get_data(OTHER) == {}


async def test_state_survives_a_restart(
    session_maker: async_sessionmaker[AsyncSession], engine: AsyncEngine, database_url: str
) -> None:
    first = SQLStorage(session_maker)
    await first.set_state(KEY, Prescription.dose)
    await first.set_data(KEY, {"drug": "Амоксициллин"})
    await first.close()
    await engine.dispose()

    restarted_engine = create_engine(database_url)  # a new process: new engine, new storage
    try:
        second = SQLStorage(make_session_maker(restarted_engine))
        assert await second.get_state(KEY) == "Prescription:dose"
        assert await second.get_data(KEY) == {"drug": "Амоксициллин"}
    finally:
        await restarted_engine.dispose()


async def test_clearing_removes_the_row(storage: SQLStorage, session_maker: async_sessionmaker[AsyncSession]) -> None:
    await storage.set_state(KEY, Prescription.drug)
    await storage.set_data(KEY, {"a": 1})
    await storage.set_state(OTHER, Prescription.drug)
    assert await _rows(session_maker) == 2
    await storage.set_state(KEY, None)
    assert await _rows(session_maker) == 2  # data still there
    await storage.set_data(KEY, {})
    assert await _rows(session_maker) == 1
    await storage.set_data(OTHER, {"b": 1})
    await storage.set_data(OTHER, {})
    assert await _rows(session_maker) == 1  # state still there
    await storage.set_state(OTHER)
    assert await _rows(session_maker) == 0


async def test_reads_are_cached_and_no_op_writes_skipped(storage: SQLStorage, engine: AsyncEngine) -> None:
    with statements(engine) as seen:
        for _ in range(5):
            assert await storage.get_state(KEY) is None
        assert await storage.get_data(KEY) == {}
        await storage.set_state(KEY, None)  # nothing to clear: no write
        await storage.set_data(KEY, {})
    assert seen == ["SELECT"]

    await storage.set_state(KEY, Prescription.drug)
    with statements(engine) as seen:
        assert await storage.get_state(KEY) == "Prescription:drug"
        await storage.set_state(KEY, Prescription.drug)
    assert seen == []


async def test_cache_coherence(storage: SQLStorage, session_maker: async_sessionmaker[AsyncSession]) -> None:
    await storage.set_data(KEY, {"items": [1]})
    data = await storage.get_data(KEY)
    data["items"].append(2)  # mutating what was returned changes nothing stored
    data["new"] = True
    assert await storage.get_data(KEY) == {"items": [1]}

    # What the cache says is what the database says.
    await storage.set_state(KEY, Prescription.dose)
    await storage.update_data(KEY, {"more": "x"})
    uncached = SQLStorage(session_maker, cache_size=0)
    assert await uncached.get_state(KEY) == await storage.get_state(KEY) == "Prescription:dose"
    assert await uncached.get_data(KEY) == await storage.get_data(KEY) == {"items": [1], "more": "x"}


async def test_concurrent_use_stays_coherent(
    storage: SQLStorage, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    keys = [StorageKey(bot_id=1, chat_id=i, user_id=i) for i in range(10)]

    async def conversation(key: StorageKey) -> None:
        for step in range(3):
            await storage.set_state(key, f"S:{step}")
            await storage.update_data(key, {f"k{step}": step})
            assert await storage.get_state(key) == f"S:{step}"

    async def reader(key: StorageKey) -> None:
        for _ in range(5):
            await storage.get_state(key)
            await storage.get_data(key)

    await asyncio.gather(*(conversation(k) for k in keys), *(reader(k) for k in keys))
    uncached = SQLStorage(session_maker, cache_size=0)
    for key in keys:
        assert await storage.get_state(key) == await uncached.get_state(key) == "S:2"
        assert await storage.get_data(key) == await uncached.get_data(key) == {"k0": 0, "k1": 1, "k2": 2}


async def test_cache_is_bounded(session_maker: async_sessionmaker[AsyncSession], engine: AsyncEngine) -> None:
    storage = SQLStorage(session_maker, cache_size=2)
    keys = [StorageKey(bot_id=1, chat_id=i, user_id=i) for i in range(4)]
    for i, key in enumerate(keys):
        await storage.set_data(key, {"i": i})
    assert len(storage._cache) == 2
    with statements(engine) as seen:
        assert [await storage.get_data(key) for key in keys] == [{"i": i} for i in range(4)]
    assert seen.count("SELECT") >= 2  # the evicted ones came from the database, correctly


async def test_without_cache(session_maker: async_sessionmaker[AsyncSession], engine: AsyncEngine) -> None:
    storage = SQLStorage(session_maker, cache_size=0)
    await storage.set_state(KEY, Prescription.drug)
    await storage.set_data(KEY, {"a": 1})
    with statements(engine) as seen:
        assert await storage.get_state(KEY) == "Prescription:drug"
        assert await storage.get_state(KEY) == "Prescription:drug"
    assert seen == ["SELECT", "SELECT"]
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}


async def test_failed_write_is_not_cached(storage: SQLStorage, engine: AsyncEngine) -> None:
    await storage.set_state(KEY, Prescription.drug)

    def fail(*args: Any) -> None:
        raise RuntimeError("disk full")

    event.listen(engine.sync_engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(RuntimeError):
            await storage.set_state(KEY, Prescription.dose)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", fail)
    with statements(engine) as seen:
        assert await storage.get_state(KEY) == "Prescription:drug"
    assert seen == ["SELECT"]  # asked the database, not a cache that might be wrong


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"when": date(2024, 1, 1)}, "data['when'] is date"),
        ({"items": [1, {"x": object()}]}, "data['items'][1]['x'] is object"),
        ({"pair": (1, 2)}, "data['pair'] is tuple"),
        ({"ids": {1, 2}}, "data['ids'] is set"),
        ({"raw": b"x"}, "data['raw'] is bytes"),
        ({"m": {1: "a"}}, "keys must be strings"),
    ],
)
async def test_rejects_non_primitive_data(storage: SQLStorage, bad: dict[str, Any], where: str) -> None:
    with pytest.raises(TypeError, match=where.replace("[", r"\[").replace("]", r"\]")):
        await storage.set_data(KEY, bad)
    with pytest.raises(TypeError):
        await storage.update_data(KEY, bad)
    assert await storage.get_data(KEY) == {}


async def test_keys_keep_bots_and_destinies_apart(storage: SQLStorage) -> None:
    await storage.set_state(KEY, "a")
    await storage.set_state(StorageKey(bot_id=43, chat_id=KEY.chat_id, user_id=KEY.user_id), "b")
    await storage.set_state(StorageKey(bot_id=42, chat_id=KEY.chat_id, user_id=KEY.user_id, destiny="x"), "c")
    assert await storage.get_state(KEY) == "a"


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"medcab-test-{secrets.token_hex(6)}"
    yield prefix
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def test_redis_storage(redis_url: str, redis_prefix: str) -> None:
    storage = make_redis_storage(redis_url, prefix=redis_prefix)
    try:
        await storage.set_state(KEY, Prescription.drug)
        await storage.set_data(KEY, {"drug": "Амоксициллин"})
        await storage.update_data(KEY, {"dose": 2})
    finally:
        await storage.close()

    restarted = make_redis_storage(Redis.from_url(redis_url), prefix=redis_prefix)  # a shared client
    try:
        assert await restarted.get_state(KEY) == "Prescription:drug"
        assert await restarted.get_data(KEY) == {"drug": "Амоксициллин", "dose": 2}
        assert await restarted.get_state(OTHER) is None
        redis = restarted.redis
        assert sorted([k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}:*")]) == [
            f"{redis_prefix}:42:{KEY.chat_id}:{KEY.user_id}:default:data",
            f"{redis_prefix}:42:{KEY.chat_id}:{KEY.user_id}:default:state",
        ]
        await restarted.set_state(KEY, None)
        await restarted.set_data(KEY, {})
        assert [k async for k in redis.scan_iter(match=f"{redis_prefix}:*")] == []
    finally:
        await restarted.close()
