"""Pacing sends to Telegram's flood limits: one global rate over all chats, one rate per chat, and a
pause for everybody after a 429 (Telegram's rule: wait ``retry_after``, then go on).

Both limiters use GCRA (the "virtual scheduling" form of a token bucket): per key one number, the
theoretical arrival time (TAT) of the next message. A message may go at ``t`` when
``t >= TAT - tolerance``; it then moves TAT to ``max(TAT, t) + interval``. ``burst`` messages can go
back to back (``tolerance = (burst - 1) * interval``), after that one per interval.

A send takes a slot in two buckets at once, and only when its chat is ready: a chat that must wait
(its one message per second already sent) never holds a global slot that another chat could use.
Waiting is sleeping until the computed time, never polling.

``margin`` keeps a fraction of each rate unused. Telegram counts messages when they arrive, we
count them when we send; a few milliseconds of network or event-loop jitter between two messages
exactly one interval apart can put one extra message into Telegram's one-second window. The
default 3 % absorbs 30 ms per second.

``InProcessRateLimiter`` holds its state in memory (one process). ``RedisRateLimiter`` keeps it in
Redis (``medcab:rate:global``, ``medcab:rate:chat:<id>``, ``medcab:rate:pause_until``) and updates
it with one Lua script per send, so the global rate and a pause hold across every bot process; its
clock is Redis's own ``TIME`` unless a test injects one.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from services.notifications.locks import KeyedLock

DEFAULT_PREFIX = "medcab:rate:"


class Clock(Protocol):
    """Time as the notification engine sees it; tests inject a fake one."""

    def now(self) -> datetime:
        """Aware UTC wall time (database timestamps, quiet hours)."""
        ...

    def monotonic(self) -> float:
        """Seconds that never jump (in-process pacing)."""
        ...

    def time(self) -> float:
        """Wall seconds since the epoch (pacing shared between processes)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class Rates:
    """Messages per second; the defaults are the bot's own (below Telegram's ~30/s and 1/s per chat)."""

    global_per_second: float = 25.0
    per_chat_per_second: float = 1.0
    # Back-to-back messages allowed after a lull (GCRA tolerance). Telegram counts per second, so
    # any burst lands in one window with the steady flow: it must fit in what the margin leaves
    # free (rate × margin per second). None: half of that (the other half absorbs network jitter,
    # also between processes sharing the Redis limiter), at least 1 — at 500/s that is 5 slots, so
    # a sender that fell 10 ms behind (a GC pause, a slow commit) catches up instead of losing
    # those slots for good; at 25/s it is 1 (no burst).
    global_burst: int | None = None
    per_chat_burst: int = 2
    margin: float = 0.02

    def __post_init__(self) -> None:
        if self.global_per_second <= 0 or self.per_chat_per_second <= 0:
            raise ValueError("rates must be positive")
        if (self.global_burst is not None and self.global_burst < 1) or self.per_chat_burst < 1:
            raise ValueError("bursts must be at least 1")
        if not 0 <= self.margin < 1:
            raise ValueError("margin must be in [0, 1)")

    @property
    def global_interval(self) -> float:
        return 1.0 / (self.global_per_second * (1.0 - self.margin))

    @property
    def chat_interval(self) -> float:
        return 1.0 / (self.per_chat_per_second * (1.0 - self.margin))

    @property
    def global_tolerance(self) -> float:
        return (self.effective_global_burst - 1) * self.global_interval

    @property
    def effective_global_burst(self) -> int:
        if self.global_burst is not None:
            return self.global_burst
        return max(1, math.floor(self.global_per_second * self.margin / 2))

    @property
    def chat_tolerance(self) -> float:
        return (self.per_chat_burst - 1) * self.chat_interval


class RateLimiter(Protocol):
    async def acquire(self, chat_id: int) -> None:
        """Return when a message to ``chat_id`` may be sent now (the slot is then taken)."""
        ...

    async def pause(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (after a 429 with ``retry_after``)."""
        ...


@dataclass(frozen=True)
class _Decision:
    """``reserved``: a slot is ours, ``delay`` seconds from now; otherwise retry after ``delay``."""

    reserved: bool
    delay: float


class InProcessRateLimiter:
    """Token buckets (GCRA) in memory: for a single bot process."""

    # Idle chats are forgotten once this many are remembered (their TAT is in the past anyway).
    _PRUNE_AT = 10_000

    def __init__(self, rates: Rates | None = None, clock: Clock | None = None) -> None:
        self.rates = rates or Rates()
        self._clock = clock or SystemClock()
        self._global_tat = -math.inf
        self._chat_tat: dict[int, float] = {}
        self._pause_until = -math.inf
        # One waiter per chat at a time (FIFO) in this process: when a chat's slot comes, one message
        # takes it instead of all its waiters waking to race for it.
        self._queues = KeyedLock()

    def _decide(self, chat_id: int, now: float) -> _Decision:
        # Synchronous: nothing else runs on the event loop between the check and the update.
        if self._pause_until > now:
            return _Decision(False, self._pause_until - now)
        rates = self.rates
        chat_tat = self._chat_tat.get(chat_id, -math.inf)
        chat_ready = chat_tat - rates.chat_tolerance
        if chat_ready > now:
            return _Decision(False, chat_ready - now)
        at = max(now, self._global_tat - rates.global_tolerance)
        self._global_tat = max(self._global_tat, at) + rates.global_interval
        self._chat_tat[chat_id] = max(chat_tat, at) + rates.chat_interval
        if len(self._chat_tat) > self._PRUNE_AT:
            self._prune(now)
        return _Decision(True, at - now)

    def _prune(self, now: float) -> None:
        for chat_id in [c for c, tat in self._chat_tat.items() if tat <= now]:
            del self._chat_tat[chat_id]

    async def acquire(self, chat_id: int) -> None:
        async with self._queues.hold(chat_id):
            await self._take_slot(chat_id)

    async def _take_slot(self, chat_id: int) -> None:
        while True:
            decision = self._decide(chat_id, self._clock.monotonic())
            if decision.delay > 0:
                await self._clock.sleep(decision.delay)
            if not decision.reserved:
                continue
            # A pause that began while we waited for our slot: the slot is forfeited, queue again.
            if self._pause_until > self._clock.monotonic():
                continue
            return

    async def pause(self, seconds: float) -> None:
        now = self._clock.monotonic()
        self._pause_until = max(self._pause_until, now + seconds)
        # Slots handed out after the pause start when it ends, one interval apart, not all at once.
        self._global_tat = max(self._global_tat, self._pause_until)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._pause_until - self._clock.monotonic())


# Both scripts read "now" the same way: Redis TIME, or the injected clock (tests).
_NOW_PRELUDE = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local function fmt(x) return string.format('%.6f', x) end
"""

# KEYS: global, chat, pause_until. ARGV: now ('' = Redis TIME), global interval, global tolerance,
# chat interval, chat tolerance. Returns {1 = reserved / 0 = retry, delay in seconds as text}.
_ACQUIRE = _NOW_PRELUDE + """
local pause_until = tonumber(redis.call('GET', KEYS[3]) or '-1')
if pause_until > now then
  return {0, fmt(pause_until - now)}
end
local gi, gt = tonumber(ARGV[2]), tonumber(ARGV[3])
local ci, ct = tonumber(ARGV[4]), tonumber(ARGV[5])
local chat_tat = tonumber(redis.call('GET', KEYS[2]) or '-1')
if chat_tat < 0 then chat_tat = now - ct - ci end
if chat_tat - ct > now then
  return {0, fmt(chat_tat - ct - now)}
end
local global_tat = tonumber(redis.call('GET', KEYS[1]) or '-1')
if global_tat < 0 then global_tat = now - gt - gi end
local at = math.max(now, global_tat - gt)
global_tat = math.max(global_tat, at) + gi
chat_tat = math.max(chat_tat, at) + ci
redis.call('SET', KEYS[1], fmt(global_tat), 'PX', math.ceil((global_tat - now + 60) * 1000))
redis.call('SET', KEYS[2], fmt(chat_tat), 'PX', math.ceil((chat_tat - now + 1) * 1000))
return {1, fmt(at - now)}
"""

# KEYS: global, pause_until. ARGV: now ('' = Redis TIME), seconds. Returns the pause end as text.
_PAUSE = _NOW_PRELUDE + """
local until_ = math.max(tonumber(redis.call('GET', KEYS[2]) or '-1'), now + tonumber(ARGV[2]))
redis.call('SET', KEYS[2], fmt(until_), 'PX', math.ceil((until_ - now + 60) * 1000))
local global_tat = tonumber(redis.call('GET', KEYS[1]) or '-1')
if global_tat < until_ then
  redis.call('SET', KEYS[1], fmt(until_), 'PX', math.ceil((until_ - now + 60) * 1000))
end
return fmt(until_)
"""

# KEYS: pause_until. ARGV: now ('' = Redis TIME). Returns the seconds left, as text.
_PAUSED_FOR = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local pause_until = tonumber(redis.call('GET', KEYS[1]) or '-1')
return string.format('%.6f', math.max(0, pause_until - now))
"""


class RedisRateLimiter:
    """The same buckets in Redis, shared by every process that uses the same ``prefix``.

    With ``clock=None`` the buckets run on Redis's clock (``TIME``), so processes on different
    hosts agree on "now"; a test passes a fake clock, whose ``time()`` is then sent instead.
    """

    def __init__(
        self,
        redis: Redis,
        rates: Rates | None = None,
        clock: Clock | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.rates = rates or Rates()
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)
        self._paused_for = redis.register_script(_PAUSED_FOR)
        self._global_key = f"{prefix}global"
        self._pause_key = f"{prefix}pause_until"
        # One waiter per chat at a time (FIFO) in this process: when a chat's slot comes, one message
        # takes it instead of all its waiters waking to race for it.
        self._queues = KeyedLock()

    def chat_key(self, chat_id: int) -> str:
        return f"{self._prefix}chat:{chat_id}"

    @property
    def keys(self) -> tuple[str, str]:
        """The global and pause keys (a chat's key: ``chat_key``)."""
        return self._global_key, self._pause_key

    def _now_arg(self) -> str:
        return "" if self._clock is None else f"{self._clock.time():.6f}"

    async def _sleep(self, seconds: float) -> None:
        if self._clock is None:
            await asyncio.sleep(seconds)
        else:
            await self._clock.sleep(seconds)

    async def acquire(self, chat_id: int) -> None:
        async with self._queues.hold(chat_id):
            await self._take_slot(chat_id)

    async def _take_slot(self, chat_id: int) -> None:
        rates = self.rates
        args: list[Any] = [
            "",
            f"{rates.global_interval:.9f}",
            f"{rates.global_tolerance:.9f}",
            f"{rates.chat_interval:.9f}",
            f"{rates.chat_tolerance:.9f}",
        ]
        keys = [self._global_key, self.chat_key(chat_id), self._pause_key]
        while True:
            args[0] = self._now_arg()
            reserved, delay_text = await self._acquire_script(keys=keys, args=args)
            delay = float(delay_text)
            if delay > 0:
                await self._sleep(delay)
            if not int(reserved):
                continue
            # Another process may have hit a 429 while we waited for our slot.
            if delay > 0 and await self.paused_for() > 0:
                continue
            return

    async def pause(self, seconds: float) -> None:
        await self._pause(keys=[self._global_key, self._pause_key], args=[self._now_arg(), f"{seconds:.6f}"])

    async def paused_for(self) -> float:
        left = await self._paused_for(keys=[self._pause_key], args=[self._now_arg()])
        return float(left)
