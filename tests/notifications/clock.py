"""A virtual clock for pacing tests: time jumps to the next wake-up only when every task under test
is blocked (asleep on this clock, or waiting for one that is) and no Redis call is in flight."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

START = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
_IDLE_ROUNDS = 12  # loop iterations without any activity before the loop counts as blocked


class FakeClock:
    def __init__(self, start: datetime = START, monotonic_start: float = 1000.0) -> None:
        self._start = start
        self._monotonic_start = monotonic_start
        self.elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.sleeps: list[float] = []
        self.busy = 0  # real I/O in flight (see CountingRedis)
        self.activity = 0

    # -- the Clock protocol ----------------------------------------------------------------------
    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self._monotonic_start + self.elapsed

    def time(self) -> float:
        return self._start.timestamp() + self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.activity += 1
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.elapsed + seconds, next(self._seq), future))
        await future

    # -- driving ---------------------------------------------------------------------------------
    @property
    def sleeping(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def _wake_next(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        deadline = self._sleepers[0][0]
        self.elapsed = max(self.elapsed, deadline)
        while self._sleepers and self._sleepers[0][0] <= deadline:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        self.activity += 1

    async def run(self, *awaitables: Awaitable[Any], limit: float = 3600.0) -> list[Any]:
        """Run the awaitables concurrently on virtual time; their results in order."""
        tasks = [asyncio.ensure_future(a) for a in awaitables]
        seen, idle = -1, 0
        try:
            while True:
                live = sum(1 for t in tasks if not t.done())
                if not live:
                    return [t.result() for t in tasks]
                marker = self.activity * 100_000 + live
                idle = idle + 1 if marker == seen and not self.busy else 0
                seen = marker
                if idle >= _IDLE_ROUNDS:
                    if not self.sleeping:
                        raise AssertionError("deadlock: every task is blocked and none sleeps on the clock")
                    if self.elapsed > limit:
                        raise AssertionError(f"virtual time passed {limit}s")
                    self._wake_next()
                    idle = 0
                await asyncio.sleep(0.0002 if self.busy else 0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


class CountingRedis(Redis):
    """A Redis client that tells the fake clock when a command is in flight."""

    clock: FakeClock | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        clock = self.clock
        if clock is None:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        clock.busy += 1
        clock.activity += 1
        try:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        finally:
            clock.busy -= 1
            clock.activity += 1


class ShiftedClock:
    """Real time, except that the wall clock reads as if started at ``start`` (quiet-hours tests)."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return self.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
