"""A clinic (медицинская организация): the unit that owns patients and grants roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    short_name: Mapped[str] = mapped_column(String(64))
    # IANA name ("Europe/Moscow"): the doctor's schedule is shown in the clinic's local time.
    timezone: Mapped[str] = mapped_column(String(64))
    # The organisation's OID in the register of medical workers (ФРМР): positions listed there
    # under this OID become roles in this clinic when a doctor signs in. A unique index rather
    # than a constraint, so the column can be added on SQLite without rebuilding the table.
    organization_oid: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
