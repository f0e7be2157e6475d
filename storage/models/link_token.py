"""One-time tokens behind the /start button that begins an ESIA sign-in.

Only the SHA-256 of a token is stored: a copy of the database cannot be used to sign anyone in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class LinkToken(Base):
    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    telegram_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("telegram_accounts.telegram_user_id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # Set once, by LinkTokenRepository.claim: a token is good for one sign-in only.
    used_at: Mapped[datetime | None]
