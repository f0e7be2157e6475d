"""The doctor's current ESIA access token (to refresh the register profile), encrypted at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class EsiaToken(Base):
    __tablename__ = "esia_tokens"

    doctor_id: Mapped[int] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # storage.crypto.FieldCipher token (context "esia_tokens.access_token"), never plaintext.
    access_token: Mapped[str] = mapped_column(Text)
    # The session id from the ID token (for logout at ESIA); not a secret by itself.
    id_token_sid: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
