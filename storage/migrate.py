"""Alembic, configured in code: ``python -m bot migrate``, start-up and the tests all go through here.

No alembic.ini is needed at run time; ``storage/alembic.ini`` exists only for developers running
the ``alembic`` CLI (e.g. ``revision --autogenerate``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from storage.db import (
    DatabaseUnavailable,
    check_connection,
    create_engine,
    is_sqlite,
    normalize_url,
    safe_url,
)

T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaOutdated(DatabaseUnavailable):
    """The database schema is not the one this code expects (run ``python -m bot migrate``)."""


def make_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(make_config()).get_current_head()


async def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; DatabaseUnavailable when the database cannot be reached."""
    await _with_connection(url, lambda connection: _command(connection, "upgrade", revision))


async def downgrade(url: str | URL, revision: str) -> None:
    await _with_connection(url, lambda connection: _command(connection, "downgrade", revision))


async def current(url: str | URL) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    return await _with_connection(url, _current_revision)


async def ensure_schema(url: str | URL) -> None:
    """At start-up: SQLite migrates itself (one process owns it); PostgreSQL must already be current.

    Several processes share a PostgreSQL database, so migrating it is an explicit deploy step
    (``python -m bot migrate``), never a race between starting processes.
    """
    parsed = normalize_url(url)
    if is_sqlite(parsed):
        await upgrade(parsed)
        return
    at, expected = await current(parsed), head_revision()
    if at != expected:
        raise SchemaOutdated(
            f"{safe_url(parsed)}: schema is at revision {at or 'none'}, this version needs {expected}; "
            "run `python -m bot migrate`"
        )


def _command(connection: Connection, name: str, revision: str) -> None:
    config = make_config()
    # env.py runs the migrations on this connection instead of opening its own.
    config.attributes["connection"] = connection
    getattr(command, name)(config, revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _with_connection(url: str | URL, work: Callable[[Connection], T]) -> T:
    engine = create_engine(url)
    try:
        await check_connection(engine)
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()
