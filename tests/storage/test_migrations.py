"""Migrations build the schema from nothing, identically on both databases, matching the models."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import SchemaOutdated, current, downgrade, ensure_schema, head_revision, upgrade
from storage.models import Base

TABLES = {
    "alembic_version",
    "audit_events",
    "clinic_roles",
    "clinics",
    "doctors",
    "fsm_states",
    "patients",
    "telegram_accounts",
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, Base.metadata))


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    assert await _tables(engine) == TABLES


async def test_upgrade_from_empty_and_back(empty_database_url: str) -> None:
    assert await current(empty_database_url) is None
    await upgrade(empty_database_url)
    assert await current(empty_database_url) == head_revision() == "0001"
    await upgrade(empty_database_url)  # already at head: nothing to do
    engine = create_engine(empty_database_url)
    try:
        assert await _tables(engine) == TABLES
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        await downgrade(empty_database_url, "base")
        assert await current(empty_database_url) is None
        assert await _tables(engine) == {"alembic_version"}
    finally:
        await engine.dispose()
    await upgrade(empty_database_url)
    assert await current(empty_database_url) == "0001"


async def test_ensure_schema(empty_database_url: str) -> None:
    if empty_database_url.startswith("sqlite"):
        await ensure_schema(empty_database_url)  # SQLite migrates itself at start-up
        assert await current(empty_database_url) == "0001"
        return
    # PostgreSQL is migrated as a deploy step; a process never races others to do it.
    with pytest.raises(SchemaOutdated, match=r"revision none, this version needs 0001; run `python -m bot migrate`"):
        await ensure_schema(empty_database_url)
    await upgrade(empty_database_url)
    await ensure_schema(empty_database_url)
