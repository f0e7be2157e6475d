"""Throttling of ESIA sign-ins per Telegram user: failures counted atomically, blocks after too many."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import upsert_insert
from storage.models import SignInFailure, UTCDateTime


class SignInThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_sign_in_failure(
        self, user_id: int, at: datetime, max_failures: int, block_for: timedelta
    ) -> datetime | None:
        """Count a failed sign-in (one atomic upsert; concurrent failures all count). The failure that
        reaches ``max_failures`` blocks sign-in until ``at + block_for`` and resets the counter.
        Returns the block in force after this failure, or None."""
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if block_for <= timedelta(0):
            raise ValueError("block_for must be positive")
        first_blocks = max_failures == 1
        insert = upsert_insert(self._session, SignInFailure).values(
            telegram_user_id=user_id,
            failed_count=0 if first_blocks else 1,
            blocked_until=at + block_for if first_blocks else None,
            updated_at=at,
        )
        counted = SignInFailure.failed_count + 1
        reaches = counted >= max_failures
        statement = insert.on_conflict_do_update(
            index_elements=[SignInFailure.telegram_user_id],
            set_={
                "failed_count": case((reaches, 0), else_=counted),
                "blocked_until": case(
                    (reaches, literal(at + block_for, UTCDateTime())), else_=SignInFailure.blocked_until
                ),
                "updated_at": at,
            },
        ).returning(SignInFailure)
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        blocked_until = result.one().blocked_until
        return blocked_until if blocked_until is not None and blocked_until > at else None

    async def reset_sign_in_failures(self, user_id: int) -> None:
        """After a successful sign-in: the count and any block are forgotten."""
        await self._session.execute(delete(SignInFailure).where(SignInFailure.telegram_user_id == user_id))

    async def sign_in_blocked_until(self, user_id: int, now: datetime | None = None) -> datetime | None:
        """The end of the user's block, or None. Without ``now`` the stored time is returned even if
        it has passed; with ``now``, only a block still in force."""
        # The column itself, not the session's copy of the row: another transaction may have blocked.
        blocked_until = await self._session.scalar(
            select(SignInFailure.blocked_until).where(SignInFailure.telegram_user_id == user_id)
        )
        if blocked_until is None or (now is not None and blocked_until <= now):
            return None
        return blocked_until
