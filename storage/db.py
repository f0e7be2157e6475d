"""Engines and sessions for the two supported databases: SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.changes import ChangeEpochs, TrackingSession, session_info

SQLITE_BUSY_TIMEOUT_MS = 5_000
CONNECT_TIMEOUT_S = 10.0

# Operators write the URL their other tools accept; the async driver is an implementation detail.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message is safe to log (no password)."""


def normalize_url(url: str | URL) -> URL:
    """The URL with its async driver (``postgresql://`` → ``postgresql+asyncpg://``), or ValueError."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError("the database URL is not valid") from exc
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: use sqlite+aiosqlite:///… or postgresql+asyncpg://…"
        )
    return parsed.set(drivername=driver)


def safe_url(url: str | URL) -> str:
    """The URL as it may appear in a log line or an error: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def create_engine(url: str | URL, **kw: Any) -> AsyncEngine:
    """An async engine configured for the database the URL names; ``kw`` goes to SQLAlchemy."""
    parsed = normalize_url(url)
    if is_sqlite(parsed):
        return _create_sqlite_engine(parsed, **kw)
    kw.setdefault("pool_pre_ping", True)  # a PostgreSQL restart must not surface as a failed update
    connect_args = kw.setdefault("connect_args", {})
    connect_args.setdefault("timeout", CONNECT_TIMEOUT_S)
    return create_async_engine(parsed, **kw)


def _create_sqlite_engine(url: URL, **kw: Any) -> AsyncEngine:
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kw)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # Off by default in SQLite; the schema relies on them as PostgreSQL does.
            cursor.execute("PRAGMA foreign_keys=ON")
            # Waiting writers queue for this long instead of failing at once with "database is locked".
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if path is not None:
                # Readers never block the writer (FSM reads on every update); NORMAL is durable with WAL.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return engine


def make_session_maker(engine: AsyncEngine, epochs: ChangeEpochs | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions for ``engine``; with ``epochs``, every commit bumps the keys of the watched rows it
    wrote, so read caches stamped with those epochs notice (``storage.changes``)."""
    # Objects stay readable after commit: handlers render them after the service has committed.
    if epochs is None:
        return async_sessionmaker(engine, expire_on_commit=False)
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=TrackingSession, info=session_info(epochs)
    )


async def check_connection(engine: AsyncEngine) -> None:
    """Run a trivial query; DatabaseUnavailable (password masked) when that is impossible."""
    where = safe_url(engine.url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError as exc:
        raise DatabaseUnavailable(f"{where}: no answer within {CONNECT_TIMEOUT_S:g} s") from exc
    except Exception as exc:
        raise DatabaseUnavailable(f"{where}: {_describe(exc, engine.url)}") from exc


def _describe(exc: BaseException, url: URL) -> str:
    cause = getattr(exc, "orig", None) or exc
    message = f"{type(cause).__name__}: {cause}".splitlines()[0]
    if url.password:
        # Some drivers echo the connection string; the password must not reach a log line.
        message = message.replace(str(url.password), "***")
    return message
