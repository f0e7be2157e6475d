"""Real OS processes: two delivery processes sharing PostgreSQL and the Redis limiter, and a
process killed with SIGKILL mid-delivery and started again."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emulators.telegram.server import TelegramEmulator
from services.notifications.pacing import SystemClock
from storage.db import create_engine, make_session_maker
from storage.models import SENT
from tests.notifications.support import all_rows, create_users, delivered_texts, enqueue, send_rates, spread

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 4


class Worker:
    """One delivery process (tests/notifications/worker_process.py)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, database_url: str, emulator: TelegramEmulator, **options: Any) -> Worker:
        args = ["--database-url", database_url, "--api-url", emulator.base_url, "--wait-for-go"]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.notifications.worker_process",
            *args,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def ready(self, timeout: float = 30.0) -> None:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.process.stdout.readline()
        assert line.strip() == b"ready", line

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def finish(self, timeout: float = 45.0) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout):
                out, err = await self.process.communicate()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise
        assert self.process.returncode == 0, err.decode()[-3000:]
        stats: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return stats

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.communicate()


@pytest.fixture
async def session_maker_for(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield make_session_maker(engine)
    await engine.dispose()


@pytest.fixture
async def rate_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"medcab:test:{secrets.token_hex(6)}:rate:"
    yield prefix
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_processes_on_postgres_share_the_rate_and_never_send_twice(
    postgres_url: str, redis_url: str, rate_prefix: str, emulator: TelegramEmulator
) -> None:
    global_rate, chat_rate = 400, 5
    emulator.set_limits(global_per_second=global_rate, per_chat_per_second=chat_rate)
    items = spread(2000, 200, SystemClock().now())
    create_users(emulator, (i.chat_id for i in items))
    engine = create_engine(postgres_url)
    session_maker = make_session_maker(engine)
    try:
        await enqueue(session_maker, items)
        options = {
            "redis_url": redis_url,
            "prefix": rate_prefix,
            "global_rate": global_rate,
            "per_chat_rate": chat_rate,
            "concurrency": CONCURRENCY,
        }
        workers = [await Worker.start(postgres_url, emulator, **options) for _ in range(2)]
        for worker in workers:
            await worker.ready()
        for worker in workers:
            worker.go()
        results = [await w.finish() for w in workers]
        rows = await all_rows(session_maker)
    finally:
        await engine.dispose()

    seen = delivered_texts(emulator, (i.chat_id for i in items))
    assert set(seen) == {i.dedup_key for i in items}  # none lost
    assert max(seen.values()) == 1  # none twice
    assert {r.status for r in rows} == {SENT}
    by_worker: dict[str | None, int] = {}
    for row in rows:
        by_worker[row.claimed_by] = by_worker.get(row.claimed_by, 0) + 1
    assert len(by_worker) == 2 and min(by_worker.values()) > 200, by_worker  # both did a real share
    assert sum(r["sent"] for r in results) == 2000
    overall, per_chat = send_rates(emulator)
    assert overall <= global_rate and per_chat <= chat_rate, (overall, per_chat)
    assert not emulator.call_log("sendMessage", ok=False)  # the shared limiter kept both under the limit


async def test_sigkill_mid_delivery_loses_nothing_and_repeats_at_most_the_in_flight(
    database_url: str,
    session_maker_for: async_sessionmaker[AsyncSession],
    emulator: TelegramEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    global_rate, chat_rate = 200, 5
    emulator.set_limits(global_per_second=global_rate, per_chat_per_second=chat_rate)
    items = spread(500, 50, SystemClock().now())
    create_users(emulator, (i.chat_id for i in items))
    await enqueue(session_maker_for, items)
    options = {"global_rate": global_rate, "per_chat_rate": chat_rate, "concurrency": CONCURRENCY, "lease": 1.5}
    first, second = [await Worker.start(database_url, emulator, **options) for _ in range(2)]
    await first.ready()
    await second.ready()  # the restart, set up ahead so the test need not wait for its imports

    first.go()
    await emulator.wait_for_calls("sendMessage", 200, timeout=30)
    await first.kill()
    second.go()
    await second.finish()

    seen = delivered_texts(emulator, (i.chat_id for i in items))
    assert set(seen) == {i.dedup_key for i in items}  # nothing lost
    duplicates = sum(count - 1 for count in seen.values())
    with capsys.disabled():
        print(f"\n[sigkill] killed after 200 sends of 500; delivered twice after the restart: {duplicates}")
    assert duplicates <= CONCURRENCY
    rows = await all_rows(session_maker_for)
    assert {r.status for r in rows} == {SENT}
