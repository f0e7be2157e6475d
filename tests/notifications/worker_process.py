"""A delivery process for the multi-process tests: ``python -m tests.notifications.worker_process``.

It builds what a bot process builds for delivery (engine, aiogram Bot pointed at the emulator,
limiter — shared through Redis when given —, DeliveryService) and delivers until nothing is left
unfinished in the outbox (or the deadline passes), then prints its totals as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from datetime import timedelta

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis

from bot.notifications import AiogramTransport
from services.notifications.delivery import DeliveryPolicy, DeliveryService, TickStats
from services.notifications.pacing import InProcessRateLimiter, RateLimiter, Rates, RedisRateLimiter
from storage.db import create_engine, make_session_maker
from tests.notifications.support import TOKEN, unfinished


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--prefix", default="medcab:rate:")
    parser.add_argument("--global-rate", type=float, default=25.0)
    parser.add_argument("--per-chat-rate", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--deadline", type=float, default=60.0)
    # Print "ready" once set up, then wait for a line on stdin: a test can start processes ahead
    # (aiogram takes seconds to import) and let them go at the moment it chooses.
    parser.add_argument("--wait-for-go", action="store_true")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> TickStats:
    engine = create_engine(args.database_url)
    session_maker = make_session_maker(engine)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(args.api_url)))
    redis = Redis.from_url(args.redis_url) if args.redis_url else None
    rates = Rates(args.global_rate, args.per_chat_rate, per_chat_burst=1)
    limiter: RateLimiter = (
        RedisRateLimiter(redis, rates, prefix=args.prefix) if redis is not None else InProcessRateLimiter(rates)
    )
    lease = timedelta(seconds=args.lease)
    policy = DeliveryPolicy(
        batch_size=args.batch_size,
        lease=lease,
        lease_margin=lease / 3,
        concurrency=args.concurrency,
        backoff_base=0.05,
        backoff_cap=0.5,
    )
    service = DeliveryService(session_maker, AiogramTransport(bot, request_timeout=5), limiter, policy)
    if args.wait_for_go:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    total = TickStats()
    deadline = time.monotonic() + args.deadline
    try:
        while time.monotonic() < deadline:
            total.add(await service.run(asyncio.Event(), interval=0.02, drain=True))
            if not await unfinished(session_maker):
                break
            # Rows another process holds (or a dead one held until its lease runs out).
            await asyncio.sleep(0.1)
    finally:
        await bot.session.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
    return total


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    stats = asyncio.run(main(parse(sys.argv[1:])))
    print(json.dumps(dataclasses.asdict(stats)), flush=True)
