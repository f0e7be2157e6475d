"""Failed ESIA sign-ins per Telegram user, and the block they earn (throttling)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class SignInFailure(Base):
    __tablename__ = "sign_in_failures"

    telegram_user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("telegram_accounts.telegram_user_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    # Failures since the last block (or success): reset to 0 when a block starts.
    failed_count: Mapped[int] = mapped_column(default=0, server_default="0")
    blocked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
