"""The delivery engine: claim due outbox rows, send them at Telegram's pace, record every outcome.

Exactly-once-ish: a row is claimed under a lease, sent, and its outcome committed at once in a
short transaction. A process that dies between Telegram's answer and that commit leaves the row
``sending``; when the lease runs out another tick takes it back and sends it again. So after a
crash at most the messages in flight (``DeliveryPolicy.concurrency``) can arrive twice, and nothing
is lost. Outcomes that finish while a commit is running share the next transaction (group
commit); the bound holds because a send keeps its in-flight slot until its outcome is committed.
Rows are only started while enough of the lease is left to finish them, so a live worker never
has its rows taken over.

One chat's rows are sent one after another in claim order (never two at once, so they arrive in
order and a 403 stops the rest), chats take turns, and a batch takes only a few rows per chat: one
doctor's backlog cannot hold a batch at one message per second. While a full batch finishes its
last sends the next one is already claimed, so the pace does not dip between batches; the number
of sends in flight stays ``concurrency`` across batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.locks import KeyedLock
from services.notifications.pacing import Clock, RateLimiter, SystemClock
from services.notifications.preferences import NO_PREFERENCES, PreferencesCache, RecipientPreferences
from services.notifications.unreachable import notify_admins
from storage.models import ROUTINE, URGENT, Notification
from storage.repositories.outbox import OutboxRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository

logger = logging.getLogger(__name__)

BLOCKED = "blocked"
KIND_DISABLED = "kind disabled"


# --- what a send can come to ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    message_id: int


@dataclass(frozen=True)
class RetryAfter:
    """429: Telegram wants everybody to wait this long."""

    seconds: float


@dataclass(frozen=True)
class Forbidden:
    """403: the user blocked the bot (or deleted the account)."""

    description: str = "Forbidden"


@dataclass(frozen=True)
class BadRequest:
    """400: this message will never be accepted as it is."""

    description: str


@dataclass(frozen=True)
class Transient:
    """5xx, network, timeout: worth trying again later."""

    error: str


SendOutcome = Sent | RetryAfter | Forbidden | BadRequest | Transient


class Transport(Protocol):
    async def send(self, notification: Notification, *, silent: bool) -> SendOutcome:
        """Send one notification; ``silent``: without sound (Telegram's disable_notification)."""
        ...


# --- policy and results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=90)
    # A row is started only while this much of its lease is left: more than one send can take
    # (the transport's request timeout), so a worker never overruns its own lease.
    lease_margin: timedelta = timedelta(seconds=30)
    max_attempts: int = 8
    # Transient failures wait uniform(0, min(cap, base · 2^(attempt-1))) seconds ("full jitter"):
    # after an outage the retries of many rows spread out instead of arriving together.
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    # Sends at once, each holding its slot until its outcome is committed: what a crash can repeat.
    concurrency: int = 4
    # Rows of one chat taken per batch; the rest wait in the queue one chat interval apart.
    per_chat_batch: int = 3
    per_chat_spacing: timedelta = timedelta(seconds=1)
    preferences_ttl: float = 30.0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.concurrency < 1 or self.max_attempts < 1 or self.per_chat_batch < 1:
            raise ValueError("batch_size, concurrency, max_attempts and per_chat_batch must be at least 1")
        if self.lease <= self.lease_margin:
            raise ValueError("the lease must be longer than lease_margin")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds before retry number ``attempt`` (1 = after the first failure)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempt - 1))
        return rng.uniform(0, ceiling)


@dataclass
class TickStats:
    reclaimed: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0  # transient failures, to be tried again
    throttled: int = 0  # 429: back in the queue, no attempt counted
    failed: int = 0
    cancelled: int = 0
    held: int = 0  # quiet hours
    released: int = 0  # given back unstarted (lease running out, a chat's share of the batch, stop)
    lost: int = 0  # outcomes not recorded: the claim was no longer ours
    unreachable: list[int] = field(default_factory=list)
    failed_tick: bool = False  # the tick itself failed (claim or database error)

    def add(self, other: TickStats) -> None:
        for name in (
            "reclaimed", "claimed", "sent", "retried", "throttled", "failed", "cancelled", "held", "released", "lost"
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unreachable.extend(other.unreachable)
        self.failed_tick = self.failed_tick or other.failed_tick


def default_worker_id() -> str:
    """Unique per process (the outbox requires it): host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


# --- the service ----------------------------------------------------------------------------------

T = TypeVar("T")
Change = Callable[[AsyncSession], Awaitable[T]]


def _settle(future: asyncio.Future[Any], result: Any = None, *, error: BaseException | None = None) -> None:
    if future.done():  # the waiter was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _GroupCommit:
    """Runs changes in short transactions, each committed before its caller goes on; changes that
    arrive while a commit is under way share the next transaction."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self._session_maker = session_maker
        self._queue: list[tuple[Change[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, change: Change[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((change, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                results = await self._apply(group)
            except Exception as error:
                if len(group) == 1:
                    _settle(group[0][1], error=error)
                    continue
                # One bad change must not cost the others their outcome: each on its own.
                for item in group:
                    try:
                        (result,) = await self._apply([item])
                    except Exception as single_error:
                        _settle(item[1], error=single_error)
                    else:
                        _settle(item[1], result)
                continue
            for (_, future), result in zip(group, results, strict=True):
                _settle(future, result)

    async def _apply(self, group: list[tuple[Change[Any], asyncio.Future[Any]]]) -> list[Any]:
        async with self._session_maker() as session:
            results = [await change(session) for change, _ in group]
            await session.commit()
        return results



@dataclass
class _Batch:
    """One tick's claimed rows, by chat, in claim order; chats take turns."""

    rows: dict[int, deque[Notification]]
    preferences: dict[int, RecipientPreferences]
    deadline: datetime  # no row is started after this (lease end minus margin)
    stats: TickStats
    stop: asyncio.Event | None
    started_all: asyncio.Event | None  # set once every row has been taken up by a worker

    def note_taken(self) -> None:
        if not self.rows and self.started_all is not None:
            self.started_all.set()


class DeliveryService:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        transport: Transport,
        limiter: RateLimiter,
        policy: DeliveryPolicy | None = None,
        worker_id: str | None = None,
        clock: Clock | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._session_maker = session_maker
        self._transport = transport
        self._limiter = limiter
        self.policy = policy or DeliveryPolicy()
        self.worker_id = worker_id or default_worker_id()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._preferences = PreferencesCache(self.policy.preferences_ttl)
        self._commits = _GroupCommit(session_maker)
        # Sends started and not yet recorded, over all batches: what a crash can repeat.
        self._in_flight = asyncio.Semaphore(self.policy.concurrency)
        self._chats = KeyedLock()
        # 403s seen lately (monotonic time): rows of the chat in an overlapping batch are not sent.
        self._blocked_at: dict[int, float] = {}
        # The latest retry this service scheduled: draining waits for it.
        self._retry_horizon: datetime | None = None
        self._last_claim_at: datetime | None = None
        # Chats that answered 403 since start (cleared by whoever reads it).
        self.unreachable: list[int] = []

    # -- the loop --------------------------------------------------------------------------------

    async def run(self, stop_event: asyncio.Event, interval: float = 1.0, *, drain: bool = False) -> TickStats:
        """Tick until ``stop_event`` is set; a full batch is followed by the next one at once (claimed
        while the full one sends its last rows).

        ``drain`` (tests, benchmarks): also stop once nothing is due and no retry this service
        scheduled is still ahead. A tick that fails (the database is down) is logged and tried
        again after ``interval``.
        """
        total = TickStats()
        finishing: asyncio.Task[TickStats] | None = None
        current: asyncio.Task[TickStats] | None = None
        try:
            while not stop_event.is_set():
                stats, started_all = TickStats(), asyncio.Event()
                current = asyncio.create_task(self.tick(stop_event, stats=stats, started_all=started_all))
                if finishing is not None:
                    total.add(await self._finished(finishing))
                    finishing = None
                taken = asyncio.ensure_future(started_all.wait())
                try:
                    await asyncio.wait({current, taken}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    taken.cancel()
                full = stats.claimed >= self.policy.batch_size
                if full and not current.done():
                    finishing = current
                    continue
                result = await self._finished(current)
                total.add(result)
                if full:
                    continue
                wait = interval
                if drain and stats.claimed == 0 and not result.failed_tick:
                    horizon = self._retry_horizon
                    # Compared with the time the claim used: a retry due since then was not looked for.
                    claimed_at = self._last_claim_at
                    if horizon is None or claimed_at is None or horizon <= claimed_at:
                        break
                    wait = min(interval, (horizon - self._clock.now()).total_seconds())
                if stats.claimed == 0 or drain:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(wait, 0.001)):
                            await stop_event.wait()
        except BaseException:
            # Cancelled (shutdown without the stop event): rows in flight come back after their lease.
            for task in (current, finishing):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(*(t for t in (current, finishing) if t is not None), return_exceptions=True)
            raise
        if finishing is not None:
            total.add(await self._finished(finishing))
        return total

    async def _finished(self, task: asyncio.Task[TickStats]) -> TickStats:
        try:
            return await task
        except Exception:
            logger.exception("a delivery tick failed; trying again")
            return TickStats(failed_tick=True)

    async def tick(
        self,
        stop: asyncio.Event | None = None,
        *,
        stats: TickStats | None = None,
        started_all: asyncio.Event | None = None,
    ) -> TickStats:
        """One batch: take back expired leases, claim due rows, deliver them, record each outcome.

        ``stats`` is filled as the tick goes (``claimed`` right after the claim); ``started_all``
        is set once every row is taken up, when the next batch may be claimed.
        """
        stats = stats if stats is not None else TickStats()
        policy = self.policy
        now = self._last_claim_at = self._clock.now()
        async with self._session_maker() as session:
            outbox = OutboxRepository(session)
            stats.reclaimed = await outbox.reclaim_expired(now)
            claimed = await outbox.claim_due(now, policy.batch_size, self.worker_id, policy.lease)
            await session.commit()
        stats.claimed = len(claimed)
        if stats.reclaimed:
            logger.warning("took back %d notification(s) whose worker's lease ran out", stats.reclaimed)
        if not claimed:
            if started_all is not None:
                started_all.set()
            return stats
        rows = await self._split(claimed, now, stats)
        preferences = await self._load_preferences(claimed)
        batch = _Batch(rows, preferences, now + policy.lease - policy.lease_margin, stats, stop, started_all)
        await self._deliver_batch(batch)
        batch.note_taken()
        return stats

    # -- batch preparation -----------------------------------------------------------------------

    async def _split(self, claimed: Sequence[Notification], now: datetime, stats: TickStats) -> dict[int, deque[Notification]]:
        """Group by chat; a chat's rows beyond its share go back to the queue, spaced out."""
        rows: dict[int, deque[Notification]] = {}
        seen: dict[int, int] = {}
        surplus: list[tuple[Notification, datetime]] = []
        share = self.policy.per_chat_batch
        for n in claimed:
            position = seen[n.chat_id] = seen.get(n.chat_id, -1) + 1
            if position < share:
                rows.setdefault(n.chat_id, deque()).append(n)
            else:
                surplus.append((n, now + (position - share + 1) * self.policy.per_chat_spacing))
        if surplus:
            async with self._session_maker() as session:
                outbox = OutboxRepository(session)
                for n, at in surplus:
                    await outbox.reschedule(n.id, self.worker_id, at)
                await session.commit()
            stats.released += len(surplus)
            self._note_retry(max(at for _, at in surplus))
        return rows

    async def _load_preferences(self, claimed: Sequence[Notification]) -> dict[int, RecipientPreferences]:
        doctor_ids = {n.doctor_id for n in claimed if n.doctor_id is not None}
        if not doctor_ids:
            return {}
        async with self._session_maker() as session:
            return await self._preferences.load(session, doctor_ids)

    # -- delivery --------------------------------------------------------------------------------

    async def _deliver_batch(self, batch: _Batch) -> None:
        turns: asyncio.Queue[int | None] = asyncio.Queue()
        for chat_id in batch.rows:
            turns.put_nowait(chat_id)
        workers = min(self.policy.concurrency, len(batch.rows))

        def finish_if_empty() -> None:
            batch.note_taken()
            if not batch.rows:
                for _ in range(workers):
                    turns.put_nowait(None)

        async def worker() -> None:
            while (chat_id := await turns.get()) is not None:
                queue = batch.rows.get(chat_id)
                if not queue:
                    continue
                n = queue.popleft()
                if not queue:
                    del batch.rows[chat_id]
                batch.note_taken()
                # The chat lock keeps one chat's rows in order across overlapping batches too.
                async with self._chats.hold(chat_id), self._in_flight:
                    await self._deliver_one(n, batch)
                if chat_id in batch.rows:
                    turns.put_nowait(chat_id)  # the chat's next row, after the other chats' turns
                else:
                    finish_if_empty()

        finish_if_empty()
        await asyncio.gather(*(worker() for _ in range(workers)))

    async def _deliver_one(self, n: Notification, batch: _Batch) -> None:
        try:
            await self._deliver(n, batch)
        except Exception:
            # The outcome could not be recorded (database down?): the lease brings the row back.
            logger.exception("delivering notification %d failed; it will be retried after its lease", n.id)

    async def _deliver(self, n: Notification, batch: _Batch) -> None:
        stats = batch.stats
        if batch.stop is not None and batch.stop.is_set():
            await self._record(lambda o: o.reschedule(n.id, self.worker_id, self._clock.now()), stats, "released")
            return
        if self._blocked_lately(n.chat_id):
            await self._record(lambda o: o.mark_cancelled(n.id, self.worker_id, BLOCKED), stats, "cancelled")
            return
        prefs = batch.preferences.get(n.doctor_id, NO_PREFERENCES) if n.doctor_id is not None else NO_PREFERENCES
        if n.kind in prefs.disabled_kinds:
            await self._record(lambda o: o.mark_cancelled(n.id, self.worker_id, KIND_DISABLED), stats, "cancelled")
            return
        urgent = n.urgency == URGENT
        if not urgent:
            held_until = prefs.quiet_until(self._clock.now())
            if held_until is not None:
                await self._record(lambda o: o.reschedule(n.id, self.worker_id, held_until), stats, "held")
                return

        left = (batch.deadline - self._clock.now()).total_seconds()
        try:
            if left <= 0:
                raise TimeoutError
            async with asyncio.timeout(left):
                await self._limiter.acquire(n.chat_id)
        except TimeoutError:
            # Not started in time: whoever claims it next sends it; nobody takes it from us mid-send.
            await self._record(lambda o: o.reschedule(n.id, self.worker_id, self._clock.now()), stats, "released")
            return
        except Exception:
            logger.exception("the rate limiter failed; notification %d goes back to the queue", n.id)
            retry_at = self._clock.now() + timedelta(seconds=self.policy.backoff_base)
            self._note_retry(retry_at)
            await self._record(
                lambda o: o.mark_retry(n.id, self.worker_id, retry_at, "rate limiter unavailable", count_attempt=False),
                stats,
                "throttled",
            )
            return

        silent = n.urgency == ROUTINE and prefs.silent_routine
        try:
            outcome = await self._transport.send(n, silent=silent)
        except Exception as error:  # a transport bug must not stall the row until its lease ends
            logger.exception("the transport raised on notification %d", n.id)
            outcome = Transient(f"{type(error).__name__}")
        await self._apply(n, outcome, batch)

    async def _apply(self, n: Notification, outcome: SendOutcome, batch: _Batch) -> None:
        stats = batch.stats
        now = self._clock.now()
        worker = self.worker_id
        match outcome:
            case Sent(message_id):
                await self._record(lambda o: o.mark_sent(n.id, worker, now, message_id), stats, "sent")
            case RetryAfter(seconds):
                # Telegram's rule: everybody waits, then this row goes again (no attempt spent).
                await self._limiter.pause(seconds)
                retry_at = now + timedelta(seconds=seconds)
                self._note_retry(retry_at)
                await self._record(
                    lambda o: o.mark_retry(n.id, worker, retry_at, f"429 retry after {seconds:g}s", count_attempt=False),
                    stats,
                    "throttled",
                )
            case Transient(error):
                attempt = n.attempts + 1
                if attempt >= self.policy.max_attempts:
                    await self._record(lambda o: o.mark_failed(n.id, worker, now, error), stats, "failed")
                else:
                    retry_at = now + timedelta(seconds=self.policy.backoff(attempt, self._rng))
                    self._note_retry(retry_at)
                    await self._record(lambda o: o.mark_retry(n.id, worker, retry_at, error), stats, "retried")
            case BadRequest(description):
                await self._record(lambda o: o.mark_failed(n.id, worker, now, description), stats, "failed")
            case Forbidden(description):
                await self._blocked(n, now, description, batch)

    async def _blocked(self, n: Notification, now: datetime, description: str, batch: _Batch) -> None:
        """403: stop writing to this chat — the row fails, the account is marked unreachable, and
        everything else queued for the chat (in the database and in this batch) is cancelled."""
        stats = batch.stats
        self._blocked_at[n.chat_id] = time.monotonic()
        rest = batch.rows.pop(n.chat_id, deque())
        batch.note_taken()

        async def apply(session: AsyncSession) -> tuple[bool, int]:
            outbox = OutboxRepository(session)
            recorded = await outbox.mark_failed(n.id, self.worker_id, now, f"{BLOCKED}: {description}")
            if await TelegramAccountRepository(session).mark_unreachable(n.chat_id, now):
                await notify_admins(session, n.chat_id, now)
            cancelled = await outbox.cancel_pending_for_chat(n.chat_id, BLOCKED)
            for other in rest:
                cancelled += int(await outbox.mark_cancelled(other.id, self.worker_id, BLOCKED))
            return recorded, cancelled

        recorded, cancelled = await self._commits.run(apply)
        if recorded:
            stats.failed += 1
        else:
            stats.lost += 1
        stats.cancelled += cancelled
        stats.unreachable.append(n.chat_id)
        self.unreachable.append(n.chat_id)
        logger.info("chat %d blocked the bot: %d queued notification(s) cancelled", n.chat_id, cancelled)

    async def _record(
        self, change: Callable[[OutboxRepository], Awaitable[bool]], stats: TickStats, counter: str
    ) -> None:
        """One outcome, committed (alone or with concurrent ones) before the worker goes on."""

        async def apply(session: AsyncSession) -> bool:
            return await change(OutboxRepository(session))

        done = await self._commits.run(apply)
        if done:
            setattr(stats, counter, getattr(stats, counter) + 1)
        else:
            stats.lost += 1
            logger.warning("an outcome was not recorded: the claim had passed to another worker")

    def _blocked_lately(self, chat_id: int) -> bool:
        """A 403 from this chat within a lease (the account may be reachable again later)."""
        at = self._blocked_at.get(chat_id)
        if at is None:
            return False
        if time.monotonic() - at < self.policy.lease.total_seconds():
            return True
        del self._blocked_at[chat_id]
        return False

    def _note_retry(self, at: datetime) -> None:
        if self._retry_horizon is None or at > self._retry_horizon:
            self._retry_horizon = at

    async def pending_count(self) -> int:
        async with self._session_maker() as session:
            return await OutboxRepository(session).pending_count()
