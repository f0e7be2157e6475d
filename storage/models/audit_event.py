"""The audit log: append-only, each row chained to the previous one by a SHA-256 hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONText

OUTCOMES = ("ok", "denied", "failed")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (CheckConstraint("outcome IN ('ok', 'denied', 'failed')", name="outcome"),)

    # The chain order. Assigned by AuditRepository.append (last id + 1 under a lock), not by a
    # sequence: a sequence leaves gaps on rollback, which would look like deleted rows.
    # (INTEGER on SQLite: only that spelling is the rowid alias.)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "tg:123", "doctor:5", "system"
    operation: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    # Ids and codes only, never patient data: the audit log is not encrypted.
    details: Mapped[dict[str, Any]] = mapped_column(JSONText)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
