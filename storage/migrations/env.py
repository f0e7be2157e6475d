"""Alembic environment, async: run by storage.migrate (connection passed in) or by the alembic CLI."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from storage.db import create_engine
from storage.models import Base

target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later revisions use batch mode (copy and swap the table).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_cli() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("MEDCAB_DATABASE_URL")
    if not url:
        raise SystemExit("set MEDCAB_DATABASE_URL (or sqlalchemy.url) to the database to migrate")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; migrate a live database")

connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_cli())
