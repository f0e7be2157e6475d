"""The few statements that must be spelled per database (everything else is portable SQLAlchemy)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def upsert_insert(session: AsyncSession, table: Table | Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``on_conflict_do_update``: same API on both databases, different import."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
