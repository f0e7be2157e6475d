"""A doctor's answer to a versioned consent text (e.g. the processing of personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

PERSONAL_DATA = "personal_data"


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (
        UniqueConstraint("doctor_id", "kind", "version"),
        # Accepted or declined (or not answered yet), never both.
        CheckConstraint("accepted_at IS NULL OR declined_at IS NULL", name="one_answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
