"""Notification delivery: the send rate we reach against a flood limit, and what one delivery tick
costs with a million notifications waiting in the outbox.

(a) ``--messages`` notifications (default 6,000: long enough that the start and the tail weigh little) through the real stack — DeliveryService, the
    in-process limiter, AiogramTransport, aiogram's HTTP client — to the Telegram emulator (in a
    process of its own, as Telegram is another machine), with the same limit (default 500/s)
    configured in our limiter and in the emulator: the achieved rate (from the emulator's call
    log), its ratio to the limit, the 429s and the duplicates.
(b) One tick (reclaim expired leases, claim 100 due rows, record 100 outcomes; an instant
    transport, no pacing), the claim alone, and an idle claim, with 1,000 future notifications in
    the table and with ``--rows`` (default 1,000,000), and the process RSS after each: neither may
    grow with the backlog (the claim reads a partial index of pending rows by due time).
    PostgreSQL with ``--postgres URL`` or MEDCAB_TEST_POSTGRES_URL (a scratch database is
    created there and dropped), else SQLite in a temporary directory.

About 1.4 ms of CPU per message (the send through aiogram and one Core UPDATE recording its
outcome); the limiter keeps a 2 % margin under the limit and allows a small catch-up burst, so a
sender that fell a few milliseconds behind does not lose those slots. Measured here: SQLite
≈ 0.95–0.98 of the limit, PostgreSQL ≈ 0.90 (each outcome waits for its commit before the worker
goes on: that is what bounds the repeats after a crash to the messages in flight).

The last line is ``limit=… achieved=… rate_ratio=… http_429=… duplicates=… tick_ms_1k=…
tick_ms_1m=… tick_ratio=… rss_mb_1k=… rss_mb_1m=…``.

    .venv/bin/python -m bench.notifications [--messages 6000] [--rate 500] [--rows 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifications import AiogramTransport
from services.notifications.delivery import DeliveryPolicy, DeliveryService, SendOutcome, Sent
from services.notifications.pacing import InProcessRateLimiter, Rates
from storage.db import create_engine, make_session_maker
from storage.migrate import upgrade
from storage.models import Notification
from storage.repositories.outbox import OutboxItem, OutboxRepository

TOKEN = "555000111:BENCH-medcab-notify-token-abcdef"
DUE_PER_TICK = 100
TICK_REPEATS = 7


def rss_mb() -> float:
    """The resident set size now (not the peak)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- databases ------------------------------------------------------------------------------------


@asynccontextmanager
async def scratch_database(postgres: str | None) -> AsyncIterator[str]:
    """A migrated, empty database: a new one on the PostgreSQL server, or a SQLite file."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await upgrade(url)
            yield url
        return
    name = f"medcab_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def add_future_rows(session_maker: async_sessionmaker[AsyncSession], first: int, last: int) -> float:
    """Notifications ``first``..``last`` due from tomorrow on, in one INSERT … SELECT; seconds taken."""
    started = time.perf_counter()
    async with session_maker() as session:
        if session.get_bind().dialect.name == "postgresql":
            statement = text(
                "INSERT INTO notifications (chat_id, kind, urgency, payload, dedup_key, due_at, status, attempts,"
                " next_attempt_at, created_at, updated_at)"
                " SELECT 5000000 + g % 50000, 'test', 'routine', '{\"text\":\"later\"}', 'future-' || g,"
                " now() + interval '1 day' + g * interval '1 second', 'pending', 0,"
                " now() + interval '1 day' + g * interval '1 second', now(), now()"
                " FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g"
            )
        else:
            # UTCDateTime stores naive UTC text on SQLite; datetime() writes the same shape.
            statement = text(
                "INSERT INTO notifications (chat_id, kind, urgency, payload, dedup_key, due_at, status, attempts,"
                " next_attempt_at, created_at, updated_at)"
                " WITH RECURSIVE seq(g) AS (SELECT :first UNION ALL SELECT g + 1 FROM seq WHERE g < :last)"
                " SELECT 5000000 + g % 50000, 'test', 'routine', '{\"text\":\"later\"}', 'future-' || g,"
                " datetime('now', '+1 day', '+' || g || ' seconds'), 'pending', 0,"
                " datetime('now', '+1 day', '+' || g || ' seconds'), datetime('now'), datetime('now')"
                " FROM seq"
            )
        await session.execute(statement, {"first": first, "last": last})
        await session.commit()
        # Fresh statistics, as autovacuum would have them in production.
        await session.execute(text("ANALYZE notifications"))
        await session.commit()
    return time.perf_counter() - started


# --- (b) the cost of a tick -----------------------------------------------------------------------


class InstantTransport:
    async def send(self, notification: Notification, *, silent: bool) -> SendOutcome:
        return Sent(notification.id)


class NoPacing:
    async def acquire(self, chat_id: int) -> None:
        return None

    async def pause(self, seconds: float) -> None:
        return None


async def add_due(session_maker: async_sessionmaker[AsyncSession], tag: str) -> None:
    now = datetime.now(UTC)
    due = [OutboxItem(6_000_000 + i, "test", f"due-{tag}-{i}", now - timedelta(seconds=1)) for i in range(DUE_PER_TICK)]
    async with session_maker() as session:
        await OutboxRepository(session).enqueue_many(due)
        await session.commit()


async def timed_claim(session_maker: async_sessionmaker[AsyncSession], worker_id: str) -> tuple[float, int]:
    """Milliseconds of what a tick does before sending: reclaim expired leases, claim, commit."""
    started = time.perf_counter()
    async with session_maker() as session:
        outbox = OutboxRepository(session)
        await outbox.reclaim_expired(datetime.now(UTC))
        claimed = await outbox.claim_due(datetime.now(UTC), DUE_PER_TICK, worker_id, timedelta(minutes=10))
        await session.commit()
    return (time.perf_counter() - started) * 1000, len(claimed)


async def tick_cost(session_maker: async_sessionmaker[AsyncSession], round_: int) -> dict[str, float]:
    """Medians in milliseconds: a whole tick delivering DUE_PER_TICK rows, the claim of that many
    due rows alone, and the claim when nothing is due (what every idle tick pays)."""
    service = DeliveryService(session_maker, InstantTransport(), NoPacing(), DeliveryPolicy(batch_size=DUE_PER_TICK))
    ticks: list[float] = []
    claims: list[float] = []
    idle: list[float] = []
    for repeat in range(TICK_REPEATS):
        await add_due(session_maker, f"{round_}-{repeat}-tick")
        started = time.perf_counter()
        stats = await service.tick()
        ticks.append((time.perf_counter() - started) * 1000)
        assert stats.sent == DUE_PER_TICK, stats
        await add_due(session_maker, f"{round_}-{repeat}-claim")
        ms, count = await timed_claim(session_maker, "bench-claim")  # left claimed: a long lease
        assert count == DUE_PER_TICK
        claims.append(ms)
        ms, count = await timed_claim(session_maker, "bench-idle")
        assert count == 0
        idle.append(ms)
    # The first repeat warms caches and compiles statements.
    return {
        "tick": statistics.median(ticks[1:]),
        "claim": statistics.median(claims[1:]),
        "idle": statistics.median(idle[1:]),
    }


async def measure_ticks(postgres: str | None, rows: int) -> dict[str, float]:
    async with scratch_database(postgres) as url:
        engine = create_engine(url)
        session_maker = make_session_maker(engine)
        try:
            small = 1000
            insert_small = await add_future_rows(session_maker, 1, small)
            cost_1k = await tick_cost(session_maker, 1)
            rss_1k = rss_mb()
            insert_big = await add_future_rows(session_maker, small + 1, rows)
            cost_1m = await tick_cost(session_maker, 2)
            rss_1m = rss_mb()
        finally:
            await engine.dispose()
    kind = "PostgreSQL" if postgres else "SQLite"
    print(f"(b) {kind}: {DUE_PER_TICK} due rows per tick, future rows {small:,} → {rows:,}")
    print(f"    setup: {small:,} rows in {insert_small:.2f} s, {rows - small:,} more in {insert_big:.1f} s")
    for key, label in [
        ("tick", f"whole tick ({DUE_PER_TICK} claimed, sent, recorded)"),
        ("claim", f"claim of {DUE_PER_TICK} due rows"),
        ("idle", "claim with nothing due"),
    ]:
        print(f"    {label:40s} {cost_1k[key]:8.2f} ms → {cost_1m[key]:8.2f} ms")
    print(f"    RSS: {rss_1k:.0f} MB → {rss_1m:.0f} MB")
    return {"tick_1k": cost_1k["tick"], "tick_1m": cost_1m["tick"], "rss_1k": rss_1k, "rss_1m": rss_1m}


# --- (a) the send rate ----------------------------------------------------------------------------


class RemoteEmulator:
    """The Telegram emulator in a process of its own, driven through its control API: Telegram is
    another machine in production, so its side of the work must not share our CPU here."""

    def __init__(self, process: asyncio.subprocess.Process, base_url: str, http: aiohttp.ClientSession) -> None:
        self.process = process
        self.base_url = base_url
        self._http = http

    @classmethod
    async def start(cls, limit: float, per_chat: float) -> RemoteEmulator:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "emulators.telegram", "--port", "0", "--token", TOKEN,
            "--global-per-second", str(limit), "--per-chat-per-second", str(per_chat),
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        base_url = line.rsplit(" ", 1)[-1].strip()
        if not base_url.startswith("http"):
            process.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        return cls(process, base_url, aiohttp.ClientSession())

    async def control(self, verb: str, path: str, json: object = None) -> Any:
        async with self._http.request(verb, f"{self.base_url}/_emulator{path}", json=json) as response:
            body = await response.json()
            if not body.get("ok"):
                raise RuntimeError(f"{verb} {path}: {body}")
            return body.get("result")

    async def stop(self) -> None:
        await self._http.close()
        self.process.terminate()
        await self.process.wait()


async def measure_rate(postgres: str | None, messages: int, limit: float, concurrency: int) -> dict[str, float]:
    chats = max(1, messages // 2)
    emulator = await RemoteEmulator.start(limit, per_chat=1)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    try:
        for chat_id in range(7_000_000, 7_000_000 + chats):
            await emulator.control("POST", "/users", {"id": chat_id, "first_name": "Doctor"})
        async with scratch_database(postgres) as url:
            engine = create_engine(url)
            session_maker = make_session_maker(engine)
            now = datetime.now(UTC)
            items = [
                OutboxItem(7_000_000 + i % chats, "test", f"rate-{i}", now, payload={"text": f"rate-{i}"})
                for i in range(messages)
            ]
            async with session_maker() as session:
                await OutboxRepository(session).enqueue_many(items)
                await session.commit()
            service = DeliveryService(
                session_maker,
                AiogramTransport(bot),
                InProcessRateLimiter(Rates(limit, 1.0, per_chat_burst=1)),
                DeliveryPolicy(batch_size=100, concurrency=concurrency),
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            await service.run(asyncio.Event(), interval=0.01, drain=True)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            await engine.dispose()
        calls = await emulator.control("GET", "/calls?method=sendMessage&data=0")
    finally:
        await bot.session.close()
        await emulator.stop()
    ok = sorted(c["time"] for c in calls if c["ok"])
    achieved = (len(ok) - 1) / (ok[-1] - ok[0]) if len(ok) > 1 else 0.0
    seen = Counter(c["result"]["text"] for c in calls if c["ok"])
    duplicates = sum(n - 1 for n in seen.values())
    lost = messages - len(seen)
    http_429 = sum(1 for c in calls if c["status"] == 429)
    print(f"(a) {messages:,} messages to {chats:,} chats, limit {limit:g}/s (ours and the emulator's), concurrency {concurrency}")
    print(
        f"    achieved {achieved:.1f}/s ({achieved / limit:.1%} of the limit; wall {wall:.2f} s, "
        f"CPU {cpu / wall:.0%} of a core, {cpu / messages * 1000:.2f} ms per message), "
        f"429s {http_429}, duplicates {duplicates}, lost {lost}"
    )
    return {"achieved": achieved, "http_429": http_429, "duplicates": duplicates}


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    postgres = args.postgres or os.environ.get("MEDCAB_TEST_POSTGRES_URL") or None
    rate = await measure_rate(postgres, args.messages, args.rate, args.concurrency)
    ticks = await measure_ticks(postgres, args.rows)
    print(
        f"limit={args.rate:g} achieved={rate['achieved']:.1f} rate_ratio={rate['achieved'] / args.rate:.3f} "
        f"http_429={rate['http_429']:.0f} duplicates={rate['duplicates']:.0f} "
        f"tick_ms_1k={ticks['tick_1k']:.1f} tick_ms_1m={ticks['tick_1m']:.1f} "
        f"tick_ratio={ticks['tick_1m'] / ticks['tick_1k']:.2f} "
        f"rss_mb_1k={ticks['rss_1k']:.0f} rss_mb_1m={ticks['rss_1m']:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", help="PostgreSQL server URL (a scratch database is created there)")
    asyncio.run(main(parser.parse_args()))
