"""aiogram FSM storage in the database (the default), and the Redis one for scale-out.

``SQLStorage`` is infrastructure, not a repository: it runs its own short transactions and commits.
Drafts survive a restart because they live in the ``fsm_states`` table.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.dialects import upsert_insert
from storage.models import FSMState, canonical_json, utcnow

DEFAULT_CACHE_SIZE = 10_000
EMPTY_DATA = "{}"
_LOCK_STRIPES = 64

_Entry = tuple[str | None, str]  # (state, canonical JSON of data); (None, "{}") means "no row"
_EMPTY: _Entry = (None, EMPTY_DATA)


def make_key_builder(prefix: str = "fsm") -> KeyBuilder:
    """Keys that keep bots, business connections and destinies apart (one database, several bots)."""
    return DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_business_connection_id=True, with_destiny=True)


def check_primitive(value: Any, path: str = "data") -> None:
    """TypeError unless ``value`` is made of JSON primitives only.

    Only what survives a round trip through JSON unchanged is accepted, so a draft reads back the
    same after a restart as before it, and no ORM object or Message is ever kept in FSM data.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_primitive(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"FSM data keys must be strings: {path} has key {key!r}")
            check_primitive(item, f"{path}[{key!r}]")
        return
    raise TypeError(
        f"FSM data may hold only JSON primitives (str, int, float, bool, None, list, dict): "
        f"{path} is {type(value).__name__}; store its id instead"
    )


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class SQLStorage(BaseStorage):
    """FSM state and data in the ``fsm_states`` table, one row per key; no row when both are empty.

    aiogram's FSMContextMiddleware reads the state on every update, so reads are served from an
    in-memory write-through cache (``cache_size`` keys, least recently used dropped; 0 disables it).
    The cache is valid because this storage belongs to a single process: a deployment with several
    processes uses Redis (``make_redis_storage``) and never this class.
    """

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        key_builder: KeyBuilder | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._session_maker = session_maker
        self._key_builder = key_builder or make_key_builder()
        self._cache_size = cache_size
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        # A read that misses the cache and a write to the same key must not interleave, or the
        # read could put a stale row into the cache; striped locks bound the memory they use.
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]

    def _key(self, key: StorageKey) -> str:
        return self._key_builder.build(key)

    def _lock(self, record_key: str) -> asyncio.Lock:
        return self._locks[zlib.crc32(record_key.encode()) % _LOCK_STRIPES]

    def _cached(self, record_key: str) -> _Entry | None:
        entry = self._cache.get(record_key)
        if entry is not None:
            self._cache.move_to_end(record_key)
        return entry

    def _remember(self, record_key: str, entry: _Entry) -> None:
        if self._cache_size <= 0:
            return
        self._cache[record_key] = entry
        self._cache.move_to_end(record_key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _read(self, record_key: str) -> _Entry:
        entry = self._cached(record_key)
        if entry is not None:
            return entry
        async with self._lock(record_key):
            entry = self._cached(record_key)
            if entry is None:
                async with self._session_maker() as session:
                    row = (
                        await session.execute(select(FSMState.state, FSMState.data).where(FSMState.key == record_key))
                    ).first()
                entry = (row.state, row.data) if row is not None else _EMPTY
                self._remember(record_key, entry)
            return entry

    async def _write(self, record_key: str, column: Literal["state", "data"], value: str | None) -> None:
        """Write one column of the row, keeping the other (no read needed: an upsert)."""
        async with self._lock(record_key):
            cached = self._cached(record_key)
            if cached is not None and cached[0 if column == "state" else 1] == value:
                return  # unchanged: clearing an empty conversation costs no write
            now = utcnow()
            row_values = {
                "key": record_key,
                "state": None,
                "data": EMPTY_DATA,
                "updated_at": now,
                column: value,
            }
            try:
                async with self._session_maker() as session, session.begin():
                    insert = upsert_insert(session, FSMState).values(row_values)
                    upsert = insert.on_conflict_do_update(
                        index_elements=[FSMState.key], set_={column: value, "updated_at": now}
                    ).returning(FSMState.state, FSMState.data)
                    row = (await session.execute(upsert)).one()
                    entry: _Entry = (row.state, row.data)
                    if entry == _EMPTY:
                        await session.execute(delete(FSMState).where(FSMState.key == record_key))
            except BaseException:
                # Whether a failed commit took effect is unknown: the next read asks the database.
                self._cache.pop(record_key, None)
                raise
            # Only after the commit: the cache never runs ahead of the database.
            self._remember(record_key, entry)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(self._key(key), "state", _state_name(state))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(self._key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(f"FSM data must be a mapping, not {type(data).__name__}")
        plain = dict(data)
        check_primitive(plain)
        await self._write(self._key(key), "data", canonical_json(plain))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        # Parsed afresh each time: the caller may mutate the dict without touching the cache.
        data: dict[str, Any] = json.loads((await self._read(self._key(key)))[1])
        return data

    async def close(self) -> None:
        self._cache.clear()


def make_redis_storage(
    redis: Redis | str, *, prefix: str = "fsm", state_ttl: int | None = None, data_ttl: int | None = None
) -> RedisStorage:
    """aiogram's RedisStorage (a client, or a URL) with the same key layout as SQLStorage.

    Several bot processes share it (scale-out). Its ``close()`` closes the Redis client.
    """
    client = Redis.from_url(redis) if isinstance(redis, str) else redis
    return RedisStorage(client, key_builder=make_key_builder(prefix), state_ttl=state_ttl, data_ttl=data_ttl)
