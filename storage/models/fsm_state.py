"""Conversation state of aiogram's FSM, one row per storage key (see storage.fsm.SQLStorage)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class FSMState(Base):
    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON of the FSM data
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
