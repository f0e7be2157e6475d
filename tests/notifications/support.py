"""Filling the outbox and reading back what happened, for the delivery tests and the runner."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emulators.telegram.server import TelegramEmulator
from storage.models import PENDING, SENDING, Notification
from storage.repositories.outbox import OutboxItem, OutboxRepository
from tests.notifications.rates import max_in_window

TOKEN = "555000111:NOTIFY-medcab-emulator-token-abcdef"
FIRST_CHAT = 700_000


def spread(count: int, chats: int, due: datetime, *, prefix: str = "n") -> list[OutboxItem]:
    """``count`` notifications over ``chats`` chats, round robin; the text is the dedup key."""
    return [
        OutboxItem(
            chat_id=FIRST_CHAT + i % chats,
            kind="test",
            dedup_key=f"{prefix}-{i}",
            due_at=due,
            payload={"text": f"{prefix}-{i}"},
        )
        for i in range(count)
    ]


def create_users(emulator: TelegramEmulator, chat_ids: Iterable[int]) -> None:
    for chat_id in set(chat_ids):
        emulator.create_user(chat_id, f"Doctor {chat_id}")


async def enqueue(session_maker: async_sessionmaker[AsyncSession], items: Sequence[OutboxItem]) -> None:
    async with session_maker() as session:
        await OutboxRepository(session).enqueue_many(items)
        await session.commit()


async def all_rows(session_maker: async_sessionmaker[AsyncSession]) -> list[Notification]:
    async with session_maker() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.id))).all())


async def unfinished(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.status.in_([PENDING, SENDING]))
        )
        return int(count or 0)


def delivered_texts(emulator: TelegramEmulator, chat_ids: Iterable[int]) -> Counter[str]:
    """How many times each text reached its chat (the emulator's own store)."""
    seen: Counter[str] = Counter()
    for chat_id in set(chat_ids):
        seen.update(m.text for m in emulator.bot_messages(chat_id))
    return seen


def send_rates(emulator: TelegramEmulator) -> tuple[int, int]:
    """The most sendMessage calls (answered or refused) in any one second: overall, and in one chat."""
    calls = emulator.call_log("sendMessage")
    overall = max_in_window(c.time for c in calls)
    by_chat: dict[str, list[float]] = {}
    for call in calls:
        by_chat.setdefault(str(call.params.get("chat_id")), []).append(call.time)
    per_chat = max((max_in_window(times) for times in by_chat.values()), default=0)
    return overall, per_chat
