"""Calendar feed tokens: only their SHA-256 is stored; revoking keeps the row (and its history)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CalendarFeed


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, doctor_id: int, token: str) -> CalendarFeed:
        feed = CalendarFeed(doctor_id=doctor_id, token_hash=token_hash(token))
        self._session.add(feed)
        await self._session.flush()
        return feed

    async def revoke_all(self, doctor_id: int, at: datetime) -> int:
        result = await self._session.execute(
            update(CalendarFeed)
            .where(CalendarFeed.doctor_id == doctor_id, CalendarFeed.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(getattr(result, "rowcount", 0))

    async def doctor_of(self, token: str) -> int | None:
        """The doctor whose live feed this token opens, or None (unknown or revoked)."""
        statement = select(CalendarFeed.doctor_id).where(
            CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)
        )
        return (await self._session.scalars(statement)).first()

    async def active(self, doctor_id: int) -> bool:
        statement = select(CalendarFeed.id).where(CalendarFeed.doctor_id == doctor_id, CalendarFeed.revoked_at.is_(None))
        return (await self._session.scalars(statement)).first() is not None
