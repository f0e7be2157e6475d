"""An update id seen twice is handled once.

Telegram redelivers an update when a webhook answered slowly or polling restarted before the
offset was confirmed. One process keeps recent ids in memory (bounded); several processes behind
a load balancer share them in Redis with ``SET NX`` so only the first process to see an id
handles it. No database write per update either way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from redis.asyncio import Redis

# Telegram keeps undelivered updates for 24 hours: remembering ids longer buys nothing.
SEEN_TTL_SECONDS = 24 * 3600


class SeenUpdates(Protocol):
    async def first_time(self, bot_id: int, update_id: int) -> bool: ...


class MemorySeenUpdates:
    def __init__(self, max_size: int = 100_000) -> None:
        self._max_size = max_size
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        key = (bot_id, update_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._max_size:
            self._seen.popitem(last=False)
        return True


class RedisSeenUpdates:
    def __init__(self, redis: Redis, prefix: str = "medcab:update") -> None:
        self._redis = redis
        self._prefix = prefix

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        created = await self._redis.set(f"{self._prefix}:{bot_id}:{update_id}", b"1", nx=True, ex=SEEN_TTL_SECONDS)
        return bool(created)


class DeduplicateUpdatesMiddleware(BaseMiddleware):
    def __init__(self, seen: SeenUpdates) -> None:
        self._seen = seen

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        bot = data["bot"]
        if not await self._seen.first_time(bot.id, event.update_id):
            return None
        return await handler(event, data)
