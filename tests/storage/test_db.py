"""Engines, connection checks and the UTC timestamp type."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import DatabaseUnavailable, check_connection, create_engine, normalize_url, safe_url
from storage.models import Clinic


async def test_sqlite_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            pragma = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            }
        assert pragma == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 5000}
        assert path.exists()
    finally:
        await engine.dispose()


async def test_sqlite_in_memory_works() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        await check_connection(engine)
    finally:
        await engine.dispose()


def test_url_normalization() -> None:
    assert normalize_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    with pytest.raises(ValueError, match="unsupported database"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(ValueError, match="not valid"):
        normalize_url("not a url")
    assert safe_url("postgresql+asyncpg://user:s3cret@h/db") == "postgresql+asyncpg://user:***@h/db"


async def test_unreachable_database_message_has_no_password() -> None:
    # Port 1 on localhost: nothing listens there, the connection is refused at once.
    engine = create_engine("postgresql+asyncpg://medcab:s3cret-pass@127.0.0.1:1/medcab")
    try:
        with pytest.raises(DatabaseUnavailable) as error:
            await check_connection(engine)
    finally:
        await engine.dispose()
    message = str(error.value)
    assert "s3cret-pass" not in message
    assert message.startswith("postgresql+asyncpg://medcab:***@127.0.0.1:1/medcab: ")


async def test_unopenable_sqlite_file(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/dir.db")
    try:
        with pytest.raises(DatabaseUnavailable, match="unable to open database file"):
            await check_connection(engine)
    finally:
        await engine.dispose()
        await _let_aiosqlite_threads_finish()


async def _let_aiosqlite_threads_finish() -> None:
    # After a failed connect, aiosqlite's worker thread reports its shutdown to the event loop
    # without being awaited; if the test's loop closed first, that report would fail the next test.
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 1.0)


async def test_connection_check_passes(engine) -> None:  # type: ignore[no-untyped-def]
    await check_connection(engine)


async def test_timestamps_are_aware_utc(session: AsyncSession) -> None:
    moscow = timezone(timedelta(hours=3))
    written = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=moscow)
    session.add(Clinic(name="ГП №1", short_name="ГП1", timezone="Europe/Moscow", created_at=written))
    await session.commit()
    session.expunge_all()
    clinic = (await session.execute(select(Clinic))).scalar_one()
    assert clinic.created_at == written
    assert clinic.created_at.tzinfo == UTC and clinic.created_at.hour == 9
    # Comparisons happen in UTC on both databases.
    found = await session.scalars(select(Clinic).where(Clinic.created_at > datetime(2024, 3, 1, 9, 30, tzinfo=UTC)))
    assert found.all() == [clinic]


async def test_naive_timestamps_are_refused(session: AsyncSession) -> None:
    session.add(Clinic(name="X", short_name="X", timezone="UTC", created_at=datetime(2024, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        await session.flush()
