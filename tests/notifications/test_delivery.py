"""The delivery engine against the Telegram emulator through aiogram's real HTTP client: pace,
faults, retries, a blocked bot, and what each outcome leaves in the outbox."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

from aiogram import Bot
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifications import AiogramTransport
from emulators.telegram.limits import Fault
from emulators.telegram.server import TelegramEmulator
from services.notifications.delivery import DeliveryPolicy, DeliveryService, _GroupCommit
from services.notifications.pacing import InProcessRateLimiter, Rates, SystemClock
from storage.models import CANCELLED, FAILED, PENDING, SENT
from storage.repositories.outbox import OutboxItem, OutboxRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository
from tests.notifications.support import (
    all_rows,
    create_users,
    delivered_texts,
    enqueue,
    send_rates,
    spread,
)

FAST = DeliveryPolicy(
    batch_size=100,
    lease=timedelta(seconds=30),
    lease_margin=timedelta(seconds=10),
    backoff_base=0.05,
    backoff_cap=0.5,
    concurrency=4,
)


class Ceiling(random.Random):
    """Full jitter at its upper bound: backoffs become exactly base · 2^(attempt-1)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def service(
    session_maker: async_sessionmaker[AsyncSession],
    bot: Bot,
    rates: Rates,
    policy: DeliveryPolicy = FAST,
    **kw: object,
) -> DeliveryService:
    return DeliveryService(
        session_maker, AiogramTransport(bot), InProcessRateLimiter(rates), policy, **kw  # type: ignore[arg-type]
    )


async def drain(svc: DeliveryService, timeout: float = 40.0) -> None:
    async with asyncio.timeout(timeout):
        await svc.run(asyncio.Event(), interval=0.02, drain=True)


async def test_a_thousand_through_random_429s_and_5xx_all_once_within_the_rates(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    global_rate, chat_rate = 300, 5
    emulator.set_limits(global_per_second=global_rate, per_chat_per_second=chat_rate)
    emulator.set_random_faults(
        0.03,
        seed=11,
        methods=["sendMessage"],
        # About one fault in eight a 429 (each stops every send for a second), the rest 5xx.
        faults=[Fault.too_many_requests(1)] + [Fault.server_error(), Fault.bad_gateway()] * 4,
    )
    items = spread(1000, 100, SystemClock().now())
    create_users(emulator, (i.chat_id for i in items))
    await enqueue(session_maker, items)

    await drain(service(session_maker, bot, Rates(global_rate, chat_rate, per_chat_burst=1)))

    seen = delivered_texts(emulator, (i.chat_id for i in items))
    assert set(seen) == {i.dedup_key for i in items}  # none lost
    assert max(seen.values()) == 1  # none twice
    rows = await all_rows(session_maker)
    assert {r.status for r in rows} == {SENT}
    assert all(r.telegram_message_id for r in rows)
    refused = [c for c in emulator.call_log("sendMessage", ok=False)]
    assert {c.status for c in refused} <= {429, 500, 502} and any(c.status == 429 for c in refused)
    overall, per_chat = send_rates(emulator)
    assert overall <= global_rate and per_chat <= chat_rate, (overall, per_chat)


async def test_a_doctor_who_blocked_the_bot_gets_no_further_attempts(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    blocked, other = 800_001, 800_002
    create_users(emulator, [blocked, other])
    emulator.block(blocked)
    async with session_maker() as session:
        await TelegramAccountRepository(session).upsert(blocked, blocked)
        await session.commit()
    now = SystemClock().now()
    items = [
        OutboxItem(blocked, "test", f"b-{i}", now, payload={"text": f"b-{i}"}) for i in range(5)
    ] + [
        OutboxItem(blocked, "test", "b-later", now + timedelta(hours=3), payload={"text": "later"}),
        OutboxItem(other, "test", "o-1", now, payload={"text": "o-1"}),
    ]
    await enqueue(session_maker, items)

    # Batches of two: the next batch is claimed while one is still sending, so the chat's rows are
    # spread over overlapping batches and the 403 must stop them all.
    svc = service(session_maker, bot, Rates(100, 10, per_chat_burst=1), replace(FAST, batch_size=2))
    await drain(svc)

    calls = [c for c in emulator.call_log("sendMessage") if int(c.params["chat_id"]) == blocked]
    assert [c.status for c in calls] == [403]  # exactly one attempt, refused
    assert svc.unreachable == [blocked]
    rows = {r.dedup_key: r for r in await all_rows(session_maker)}
    assert rows["b-0"].status == FAILED and (rows["b-0"].last_error or "").startswith("blocked")
    assert {rows[f"b-{i}"].status for i in range(1, 5)} | {rows["b-later"].status} == {CANCELLED}
    assert rows["o-1"].status == SENT
    async with session_maker() as session:
        account = await TelegramAccountRepository(session).get(blocked)
    assert account is not None and account.unreachable_since is not None


async def test_transient_failures_back_off_growing_then_fail_with_the_error(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    create_users(emulator, [900_001, 900_002])
    emulator.inject_fault("sendMessage", Fault.server_error("Internal Server Error: injected"), times=4)
    now = SystemClock().now()
    await enqueue(session_maker, [OutboxItem(900_001, "test", "flaky", now, payload={"text": "flaky"})])
    policy = replace(FAST, max_attempts=4, backoff_base=0.1, backoff_cap=10.0)

    await drain(service(session_maker, bot, Rates(100, 10), policy, rng=Ceiling()))

    calls = emulator.call_log("sendMessage")
    assert [c.status for c in calls] == [500, 500, 500, 500]
    gaps = [b.time - a.time for a, b in pairwise(calls)]
    # Full jitter at its ceiling: 0.1, 0.2, 0.4 s (plus a tick's latency).
    for gap, expected in zip(gaps, [0.1, 0.2, 0.4], strict=True):
        assert expected * 0.9 <= gap <= expected + 0.15, gaps
    (row,) = await all_rows(session_maker)
    assert row.status == FAILED and row.attempts == 4
    assert row.last_error is not None and "Internal Server Error: injected" in row.last_error

    # 400: failed at once, with Telegram's description.
    emulator.inject_fault("sendMessage", Fault.bad_request("message is too long"))
    await enqueue(session_maker, [OutboxItem(900_002, "test", "bad", now, payload={"text": "bad"})])
    await drain(service(session_maker, bot, Rates(100, 10), policy))
    rows = {r.dedup_key: r for r in await all_rows(session_maker)}
    assert rows["bad"].status == FAILED and rows["bad"].attempts == 1
    assert rows["bad"].last_error == "Bad Request: message is too long"


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    policy = DeliveryPolicy(backoff_base=2.0, backoff_cap=60.0)
    rng = random.Random(5)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (20, 60.0)]:
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= ceiling
        assert max(waits) > ceiling * 0.8  # spread over the whole range, not a fixed delay


async def test_one_chats_messages_arrive_in_order_across_overlapping_batches(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    now = SystemClock().now()
    items = [
        OutboxItem(830_000 + chat, "test", f"c{chat}-{i:02d}", now + timedelta(milliseconds=i), payload={"text": f"c{chat}-{i:02d}"})
        for i in range(8)
        for chat in range(3)
    ]
    create_users(emulator, (i.chat_id for i in items))
    await enqueue(session_maker, items)
    policy = replace(FAST, batch_size=4, per_chat_batch=2, per_chat_spacing=timedelta(milliseconds=50))

    await drain(service(session_maker, bot, Rates(200, 20, per_chat_burst=1), policy))

    for chat in range(3):
        texts = [m.text for m in emulator.bot_messages(830_000 + chat)]
        assert texts == [f"c{chat}-{i:02d}" for i in range(8)]


async def test_stopping_gives_unstarted_rows_back_at_once(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    items = spread(200, 50, SystemClock().now())
    create_users(emulator, (i.chat_id for i in items))
    await enqueue(session_maker, items)
    stop = asyncio.Event()
    svc = service(session_maker, bot, Rates(50, 5))
    runner = asyncio.create_task(svc.run(stop, interval=0.02))
    await emulator.wait_for_calls("sendMessage", 20, timeout=10)
    stop.set()
    async with asyncio.timeout(10):
        stats = await runner

    rows = await all_rows(session_maker)
    statuses = Counter(r.status for r in rows)
    assert set(statuses) == {SENT, PENDING}, statuses  # nothing left leased to a stopped worker
    assert statuses[SENT] == stats.sent == len(emulator.call_log("sendMessage", ok=True))
    assert stats.released > 0  # the claimed rest went back to the queue


async def test_a_failing_tick_is_logged_and_the_loop_goes_on(
    session_maker: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, bot: Bot
) -> None:
    emulator.create_user(840_001, "Doctor")
    await enqueue(session_maker, [OutboxItem(840_001, "test", "after-outage", SystemClock().now(), payload={"text": "ok"})])
    calls = 0

    def flaky_maker() -> AsyncSession:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("SELECT 1", {}, ConnectionError("database restarting"))
        return session_maker()

    svc = DeliveryService(flaky_maker, AiogramTransport(bot), InProcessRateLimiter(Rates(10, 1)), FAST)  # type: ignore[arg-type]
    await drain(svc)
    (row,) = await all_rows(session_maker)
    assert row.status == SENT


async def test_one_bad_change_in_a_group_commit_does_not_cost_the_others(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    now = SystemClock().now()
    await enqueue(session_maker, spread(3, 3, now))
    async with session_maker() as session:
        claimed = await OutboxRepository(session).claim_due(now, 3, "w1", timedelta(seconds=60))
        await session.commit()
    commits = _GroupCommit(session_maker)

    def sent(row_id: int):  # type: ignore[no-untyped-def]
        return lambda session: OutboxRepository(session).mark_sent(row_id, "w1", now, 1)

    async def broken(session: AsyncSession) -> bool:
        raise RuntimeError("a bug in one change")

    results = await asyncio.gather(
        commits.run(sent(claimed[0].id)), commits.run(broken), commits.run(sent(claimed[1].id)),
        commits.run(sent(claimed[2].id)), return_exceptions=True,
    )
    assert results[0] is True and isinstance(results[1], RuntimeError) and list(results[2:]) == [True, True]
    assert {r.status for r in await all_rows(session_maker)} == {SENT}
