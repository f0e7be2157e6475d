"""The rate limiters with a virtual clock: global and per-chat rates, bursts, pauses after a 429,
no polling; the Redis one also across two limiter instances (two processes sharing Redis)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence

import pytest
from redis.asyncio import Redis

from services.notifications.pacing import InProcessRateLimiter, RateLimiter, Rates, RedisRateLimiter
from tests.notifications.clock import CountingRedis, FakeClock
from tests.notifications.rates import max_in_window


def exact(global_rate: float, chat_rate: float, chat_burst: int = 1, global_burst: int = 1) -> Rates:
    """Rates without the jitter margin, so expected times are round numbers."""
    return Rates(global_rate, chat_rate, global_burst=global_burst, per_chat_burst=chat_burst, margin=0.0)


async def send_times(clock: FakeClock, limiter: RateLimiter, chats: Sequence[int]) -> list[float]:
    """Acquire for every chat concurrently; the virtual time each one was let through."""
    start = clock.elapsed

    async def one(chat_id: int) -> float:
        await limiter.acquire(chat_id)
        return round(clock.elapsed - start, 6)

    return await clock.run(*(one(c) for c in chats))


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[CountingRedis]:
    client = CountingRedis.from_url(redis_url)
    assert isinstance(client, CountingRedis)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client: Redis) -> AsyncIterator[str]:
    value = f"medcab:test:{secrets.token_hex(6)}:rate:"
    yield value
    keys = [key async for key in redis_client.scan_iter(match=f"{value}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A factory (rates, clock) -> limiter, for each implementation."""
    if request.param == "memory":
        return lambda rates, clock: InProcessRateLimiter(rates, clock)
    client: CountingRedis = request.getfixturevalue("redis_client")
    key_prefix: str = request.getfixturevalue("prefix")

    def make(rates: Rates, clock: FakeClock) -> RedisRateLimiter:
        client.clock = clock
        return RedisRateLimiter(client, rates, clock, prefix=key_prefix)

    return make


async def test_one_chat_gets_its_burst_then_one_per_interval(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(exact(1000, 1, chat_burst=2), clock)
    # The second goes one global interval (1 ms) after the first: the global burst is 1.
    assert sorted(await send_times(clock, limiter, [7] * 5)) == pytest.approx([0, 0.001, 1, 2, 3])


async def test_global_rate_spaces_messages_to_many_chats(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(exact(5, 1), clock)
    times = await send_times(clock, limiter, list(range(10)))
    assert sorted(times) == pytest.approx([i * 0.2 for i in range(10)])


async def test_a_busy_chat_does_not_hold_the_others_back(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(exact(10, 1), clock)
    times = await send_times(clock, limiter, [1, 1, 1, 2, 3, 4, 5, 6])
    busy, others = times[:3], times[3:]
    assert sorted(busy) == pytest.approx([0, 1, 2])
    # The waiting chat's turns were not taken out of the global budget: the others go at once.
    assert max(others) <= 0.6


async def test_the_margin_keeps_a_little_of_each_rate(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(Rates(10, 1, per_chat_burst=1, margin=0.1), clock)
    times = await send_times(clock, limiter, list(range(4)))
    assert sorted(times) == pytest.approx([0, 1 / 9, 2 / 9, 3 / 9])


async def test_pause_stops_everybody_then_resumes_at_the_rate(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(exact(10, 1), clock)
    await send_times(clock, limiter, [1])
    await limiter.pause(3)
    times = await send_times(clock, limiter, [2, 3, 4])
    assert sorted(times) == pytest.approx([3.0, 3.1, 3.2])


async def test_a_pause_during_the_wait_forfeits_the_slot(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(exact(1, 1), clock)

    async def waiter() -> float:
        await limiter.acquire(2)  # its slot is at t=1
        return clock.elapsed

    async def hit_429() -> None:
        await clock.sleep(0.5)
        await limiter.pause(5)  # at t=0.5, until t=5.5

    await send_times(clock, limiter, [1])
    start = clock.elapsed
    released, _ = await clock.run(waiter(), hit_429())
    assert released - start >= 5.5


async def test_waiting_is_sleeping_not_polling(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(exact(50, 1), clock)
    chats = [i % 20 for i in range(200)]
    await send_times(clock, limiter, chats)
    # Each acquire sleeps at most a few times (wait for its chat, then for its global slot).
    assert len(clock.sleeps) <= 3 * len(chats)
    # 20 chats at 1/s each, 10 messages each; the first round is spread by the global rate (0.38 s).
    assert clock.elapsed == pytest.approx(9.38, abs=0.01)


async def test_sliding_windows_never_exceed_the_rates(make_limiter) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    limiter = make_limiter(Rates(20, 2, per_chat_burst=1), clock)
    chats = [(i * 7) % 15 for i in range(150)]
    times = await send_times(clock, limiter, chats)
    assert max_in_window(times) <= 20
    by_chat: dict[int, list[float]] = {}
    for chat, at in zip(chats, times, strict=True):
        by_chat.setdefault(chat, []).append(at)
    assert max(max_in_window(t) for t in by_chat.values()) <= 2


async def test_redis_limit_and_pause_hold_across_processes(redis_client: CountingRedis, prefix: str) -> None:
    """Two limiters on one prefix behave as one: the global rate is shared, and a 429 pause taken
    by one stops the other."""
    clock = FakeClock()
    redis_client.clock = clock
    a = RedisRateLimiter(redis_client, exact(10, 1), clock, prefix=prefix)
    b = RedisRateLimiter(redis_client, exact(10, 1), clock, prefix=prefix)
    times = await clock.run(
        *(_timed(clock, limiter, chat) for chat, limiter in zip(range(10), [a, b] * 5, strict=True))
    )
    assert sorted(times) == pytest.approx([i * 0.1 for i in range(10)], abs=1e-6)
    await a.pause(2)
    assert await b.paused_for() == pytest.approx(2.0)
    start = clock.elapsed
    (released,) = await clock.run(_timed(clock, b, 99))
    assert released - start >= 2.0 - 1e-6


async def test_redis_keys_expire_and_server_time_is_used(redis_client: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, Rates(200, 50), prefix=prefix)  # Redis's clock
    for chat in range(5):
        await limiter.acquire(chat)
    global_key, _ = limiter.keys
    assert 0 < await redis_client.pttl(global_key) <= 61_000
    assert 0 < await redis_client.pttl(limiter.chat_key(3)) <= 2_000


async def _timed(clock: FakeClock, limiter: RateLimiter, chat_id: int) -> float:
    await limiter.acquire(chat_id)
    return round(clock.elapsed, 6)
