"""A Telegram user: preferences known before linking, and the link to a doctor once made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

DEFAULT_LOCALE = "ru"


class TelegramAccount(Base):
    __tablename__ = "telegram_accounts"

    # Telegram ids exceed 32 bits.
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(8), default=DEFAULT_LOCALE, server_default=DEFAULT_LOCALE)
    # Unique: one Telegram account per doctor, so a message for the doctor has exactly one recipient.
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"), unique=True)
    linked_at: Mapped[datetime | None]
    # Since when Telegram refuses our messages (403: the user blocked the bot); None again once
    # they write to the bot. Nothing is sent to an unreachable account.
    unreachable_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
