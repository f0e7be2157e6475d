"""One-time link tokens (the /start button of an ESIA sign-in): stored as SHA-256, claimed once."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LinkToken


def link_token_hash(token: str) -> str:
    """What ``link_tokens.token_hash`` holds for a token: its SHA-256, hex (the token is never stored).

    A plain hash suffices: the token is random and long, so it cannot be guessed from its hash.
    """
    return hashlib.sha256(token.encode()).hexdigest()


class LinkTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token_hash: str, telegram_user_id: int, chat_id: int, expires_at: datetime) -> LinkToken:
        """A new unused token, flushed (a duplicate hash raises IntegrityError here)."""
        token = LinkToken(
            token_hash=token_hash, telegram_user_id=telegram_user_id, chat_id=chat_id, expires_at=expires_at
        )
        self._session.add(token)
        await self._session.flush()
        return token

    async def claim(self, token_hash: str, now: datetime) -> LinkToken | None:
        """Mark the token used and return it; None when it is unknown, used or expired.

        One conditional UPDATE: of two concurrent claims exactly one gets the row (on PostgreSQL the
        second waits for the first's row lock, then finds ``used_at`` set; SQLite has one writer).
        """
        statement = (
            update(LinkToken)
            .where(LinkToken.token_hash == token_hash, LinkToken.used_at.is_(None), LinkToken.expires_at > now)
            .values(used_at=now)
            .returning(LinkToken)
        )
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one_or_none()

    async def purge_expired(self, now: datetime) -> int:
        """Delete the tokens expired at ``now`` (used or not); the number deleted."""
        result = await self._session.execute(delete(LinkToken).where(LinkToken.expires_at <= now))
        return cast("CursorResult[Any]", result).rowcount
