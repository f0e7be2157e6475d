"""Templates of medical documents (справки, заключения, протоколы): defaults and clinic versions.

``clinic_id`` NULL is a default shipped with the bot; a clinic's own row with the same code
replaces it for that clinic. ``fields`` is a JSON list of ``{"key", "label", "kind", "max"}``;
``body`` is the text with ``{key}`` placeholders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONText, utcnow


class DocumentTemplate(Base):
    __tablename__ = "document_templates"
    __table_args__ = (UniqueConstraint("clinic_id", "code", name="uq_document_templates_clinic_id_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    fields: Mapped[Any] = mapped_column(JSONText)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
