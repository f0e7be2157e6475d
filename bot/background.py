"""Background work of a running bot: notification delivery and the scans that produce reminders.

APScheduler only keeps time here; what is due lives in the outbox table, so a restart (or a
second process) loses nothing and sends nothing twice. Jobs hold no Bot or Message objects: they
open their own unit of work when they fire.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from bot.documents import document_exchange_jobs
from bot.notifications import AiogramTransport, RunningJobs, build_limiter, build_scheduler, delivery_job
from bot.runtime import Runtime
from handlers.announcements import progress_text
from handlers.notifications import render_notification
from services.announcements import AnnouncementService
from services.identity.access import AccessService
from services.notifications.delivery import DeliveryService
from services.reminders import ReminderScans
from services.schedule.notifications import appointment_reminders, change_request_reminders
from services.uow import UnitOfWork
from storage.models import Notification

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 25.0


def _scan(runtime: Runtime, name: str, work: Callable[[UnitOfWork, datetime], Awaitable[int]]) -> Callable[[], Awaitable[None]]:
    """A producer run in its own unit of work; logs how many notifications it queued."""

    async def job() -> None:
        try:
            async with UnitOfWork(runtime.session_maker) as uow:
                queued = await work(uow, datetime.now(UTC))
            if queued:
                logger.info("%s: %d notifications queued", name, queued)
        except Exception:
            # A failed scan is retried at its next firing; it must not stop the scheduler.
            logger.exception("%s failed", name)

    return job


class ProgressReporter:
    """Edits each administrator's progress message while an announcement is being delivered."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._shown: dict[int, str] = {}

    async def __call__(self) -> None:
        runtime = self._runtime
        try:
            async with UnitOfWork(runtime.session_maker) as uow:
                service = AnnouncementService(uow, AccessService(uow))
                for announcement_id in await service.unfinished():
                    progress = await service.progress(announcement_id)
                    if progress is None:
                        continue
                    with runtime.i18n.context(), runtime.i18n.use_locale(runtime.i18n.default_locale):
                        text = progress_text(progress)
                    if self._shown.get(announcement_id) != text:
                        try:
                            await runtime.bot.edit_message_text(
                                text, chat_id=progress.chat_id, message_id=progress.message_id
                            )
                        except TelegramBadRequest as exc:
                            # "message is not modified" after a restart (nothing shown yet in this
                            # process) is expected; anything else is worth a line.
                            if "not modified" not in exc.message:
                                logger.warning("progress message not updated: %s", type(exc).__name__)
                        except TelegramAPIError as exc:
                            logger.warning("progress message not updated: %s", type(exc).__name__)
                        self._shown[announcement_id] = text
                    if progress.done:
                        await service.finish(announcement_id)
                        self._shown.pop(announcement_id, None)
        except Exception:
            logger.exception("announcement progress failed")


@asynccontextmanager
async def background_jobs(runtime: Runtime) -> AsyncIterator[DeliveryService]:
    i18n = runtime.i18n

    def render(notification: Notification) -> tuple[str, object]:
        return render_notification(i18n, notification.id, notification.kind, dict(notification.payload or {}))

    limiter = build_limiter(runtime.settings.notifications, runtime.redis)
    service = DeliveryService(runtime.session_maker, AiogramTransport(runtime.bot, render), limiter)  # type: ignore[arg-type]
    expiry = _scan(runtime, "document expiry scan", lambda uow, now: ReminderScans(uow).document_expiry(now))
    briefs = _scan(runtime, "morning brief scan", lambda uow, now: ReminderScans(uow).morning_briefs(now))
    running = RunningJobs()
    scheduler = build_scheduler(
        "UTC",
        delivery_job(service),
        {
            "reminders.document_expiry": (expiry, IntervalTrigger(minutes=30)),
            "reminders.morning_brief": (briefs, IntervalTrigger(minutes=5)),
            "reminders.appointments": (
                _scan(runtime, "appointment reminder scan", appointment_reminders),
                IntervalTrigger(minutes=1),
            ),
            "reminders.change_requests": (
                _scan(runtime, "change request reminder scan", change_request_reminders),
                IntervalTrigger(minutes=5),
            ),
            "announcements.progress": (ProgressReporter(runtime), IntervalTrigger(seconds=2)),
            **document_exchange_jobs(runtime),
        },
        running=running,
    )
    scheduler.start()
    # The slow scans also fire right away (in the scheduler, not before the bot is ready), so a
    # restart does not wait half an hour for them.
    now = datetime.now(UTC)
    for job_id in ("reminders.document_expiry", "reminders.morning_brief"):
        scheduler.modify_job(job_id, next_run_time=now)
    try:
        yield service
    finally:
        # No new firings; a tick in progress records its outcomes (sends are bounded by the
        # transport's timeout), so a clean stop repeats nothing.
        scheduler.pause()
        cancelled = await running.drain(grace=STOP_GRACE_SECONDS)
        if cancelled:
            logger.warning("%d background job(s) cancelled at stop", cancelled)
        scheduler.shutdown(wait=False)
