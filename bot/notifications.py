"""The notification engine's aiogram side: the Telegram transport, and the scheduler and limiter
wiring the composition root uses.

``services.notifications`` decides what to send and when; this module only turns one notification
into one ``sendMessage`` and Telegram's answer (or aiogram's exception) into a ``SendOutcome``.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import tzinfo

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup
from apscheduler.jobstores.memory import MemoryJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from redis.asyncio import Redis

from bot.settings import NotificationSettings
from services.notifications.delivery import (
    BadRequest,
    DeliveryService,
    Forbidden,
    RetryAfter,
    SendOutcome,
    Sent,
    Transient,
)
from services.notifications.pacing import InProcessRateLimiter, RateLimiter, Rates, RedisRateLimiter
from storage.models import Notification

logger = logging.getLogger(__name__)

Rendered = tuple[str, InlineKeyboardMarkup | None]
# The handlers layer supplies the real renderer (localized texts, buttons); it may be async.
Render = Callable[[Notification], Rendered | Awaitable[Rendered]]
Job = Callable[[], Awaitable[object]]

DELIVERY_JOB_ID = "notifications.delivery"


def default_render(notification: Notification) -> Rendered:
    """``payload["text"]`` as plain text (escaped: the message is sent as HTML), no buttons."""
    text = str((notification.payload or {}).get("text") or notification.kind)
    return html.escape(text, quote=False), None


class AiogramTransport:
    """Sends a notification with ``bot.send_message`` and reports what Telegram said."""

    def __init__(self, bot: Bot, render: Render = default_render, *, request_timeout: float = 20.0) -> None:
        self._bot = bot
        self._render = render
        # Shorter than the delivery lease margin: a send never outlives its row's claim.
        self._request_timeout = request_timeout

    async def send(self, notification: Notification, *, silent: bool) -> SendOutcome:
        rendered = self._render(notification)
        text, markup = await rendered if inspect.isawaitable(rendered) else rendered
        try:
            message = await self._bot.send_message(
                notification.chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_notification=silent,
                # Messages carrying patient data can't be forwarded or saved (the producer decides).
                protect_content=bool((notification.payload or {}).get("protect_content", False)),
                request_timeout=int(self._request_timeout),
            )
        except TelegramRetryAfter as error:
            return RetryAfter(float(error.retry_after))
        except TelegramForbiddenError as error:
            return Forbidden(error.message)
        except (TelegramBadRequest, TelegramNotFound, TelegramMigrateToChat, TelegramEntityTooLarge) as error:
            # The same request will never succeed: chat not found, bad HTML, message too long…
            return BadRequest(error.message)
        except (TelegramServerError, TelegramNetworkError, TimeoutError) as error:
            return Transient(_describe(error))
        except (TelegramAPIError, AiogramError) as error:
            # 401/409 and unexpected answers (an undecodable response): maybe the message went
            # out, maybe not; a retry is at-least-once, which is the outbox's promise anyway.
            return Transient(_describe(error))
        return Sent(message.message_id)


def _describe(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


# --- wiring -------------------------------------------------------------------------------------


def build_limiter(settings: NotificationSettings, redis: Redis | None = None) -> RateLimiter:
    """One limiter per process: shared through Redis when there is one (several processes then
    keep one global rate and honour each other's 429 pauses), in memory otherwise."""
    rates = Rates(global_per_second=settings.global_rate, per_chat_per_second=settings.per_chat_rate)
    if redis is not None:
        return RedisRateLimiter(redis, rates)
    return InProcessRateLimiter(rates)


def delivery_job(service: DeliveryService) -> Job:
    """The scheduler's delivery timer: ticks until a batch comes back short (the due backlog is
    drained), then returns until the next firing."""

    async def deliver_due() -> None:
        while True:
            stats = await service.tick()
            if stats.claimed < service.policy.batch_size:
                return

    return deliver_due


class RunningJobs:
    """The scheduler's jobs that are running now, so a stopping process lets them finish (a tick
    records its outcomes) instead of cancelling them in the middle of a database call."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def track(self, job: Job) -> Job:
        async def tracked() -> object:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                return await job()
            finally:
                self._tasks.discard(task)

        return tracked

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for running jobs; cancel the rest. The number cancelled."""
        pending = {task for task in self._tasks if not task.done()}
        if not pending:
            return 0
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        return len(late)


def build_scheduler(
    tz: tzinfo | str,
    tick_job: Job,
    scans: Mapping[str, tuple[Job, BaseTrigger]],
    *,
    tick_seconds: float = 1.0,
    running: RunningJobs | None = None,
) -> AsyncIOScheduler:
    """APScheduler as a timer only: an in-memory job store (the outbox, not the scheduler, is the
    source of truth, so nothing is pickled and a restart loses nothing), explicit job ids, one
    instance of each job at a time, missed firings coalesced. Not started: call ``start()`` on the
    running loop and ``shutdown()`` when stopping."""
    scheduler = AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone=tz,
    )
    wrap = running.track if running is not None else (lambda job: job)
    scheduler.add_job(
        wrap(tick_job),
        IntervalTrigger(seconds=tick_seconds, timezone=tz),
        id=DELIVERY_JOB_ID,
        name="deliver due notifications",
        replace_existing=True,
    )
    for job_id, (job, trigger) in scans.items():
        if job_id == DELIVERY_JOB_ID:
            raise ValueError(f"{DELIVERY_JOB_ID!r} is the delivery job's id")
        scheduler.add_job(wrap(job), trigger, id=job_id, name=job_id, replace_existing=True)
    return scheduler
