"""An authorization request sent to ESIA, waiting for its callback (OAuth 2.0 with PKCE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class EsiaAuthRequest(Base):
    __tablename__ = "esia_auth_requests"

    # The ``state`` sent to ESIA (a UUID): the callback finds its request by it.
    state: Mapped[str] = mapped_column(String(36), primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("telegram_accounts.telegram_user_id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # storage.crypto.FieldCipher token (context "esia_auth_requests.code_verifier"), never plaintext.
    code_verifier: Mapped[str] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
