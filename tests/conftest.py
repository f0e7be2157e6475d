"""Shared database and Redis fixtures (this file holds nothing else).

Databases are real and migrated with alembic, never ``create_all``:

``database_url``
    Parametrized ``[sqlite]`` / ``[postgres]``: every test using it (or ``engine``,
    ``session_maker``, ``session``) runs on both databases.

    * sqlite: a fresh file database in the test's ``tmp_path``, copied from a template migrated
      once per session (a copy is much faster than migrating again).
    * postgres: one database per test session, ``medcab_test_<pid>_<random>``, created from
      ``MEDCAB_TEST_POSTGRES_URL`` (which must allow CREATE DATABASE), migrated once, every table
      TRUNCATEd (RESTART IDENTITY CASCADE) before each test, dropped at the end. Concurrent test
      runs on one server do not see each other.

    To run a module on SQLite only, override it there:
    ``@pytest.fixture def database_url(sqlite_url): return sqlite_url``.
``sqlite_url`` / ``postgres_url``
    The same, for one database only (``sqlite_url`` for fast tests that need no PostgreSQL).
``empty_database_url``
    Parametrized like ``database_url`` but never migrated (migration tests); a PostgreSQL one is a
    database of its own, dropped after the test.
``engine``, ``session_maker``, ``session``
    ``storage.db.create_engine(database_url)`` (disposed after the test), its
    ``make_session_maker``, and one ``AsyncSession`` from it (closed after; nothing is committed
    unless the test commits).
``redis_url``
    ``MEDCAB_TEST_REDIS_URL``. Use a unique key prefix per test and delete what you wrote.
``require_services``
    ``require_services.url(env_var, what)`` returns the variable's value, or skips the test with
    "set <env_var> to run <what>"; ``require_services.missing(reason)`` skips for any other missing
    thing (a browser...). With ``MEDCAB_TEST_REQUIRE_SERVICES=1`` (CI) both fail instead of
    skipping, so a missing service can never pass silently.

Locally: ``MEDCAB_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test`` and
``MEDCAB_TEST_REDIS_URL=redis://127.0.0.1:6379/0``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, make_session_maker
from storage.migrate import upgrade

POSTGRES_ENV = "MEDCAB_TEST_POSTGRES_URL"
REDIS_ENV = "MEDCAB_TEST_REDIS_URL"
REQUIRE_ENV = "MEDCAB_TEST_REQUIRE_SERVICES"
DATABASES = ["sqlite", "postgres"]

T = TypeVar("T")


class ServiceGate:
    """Skip a test for a missing service, or fail it when services are required (CI)."""

    @property
    def required(self) -> bool:
        return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")

    def missing(self, reason: str) -> NoReturn:
        if self.required:
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1: services are mandatory)", pytrace=False)
        pytest.skip(reason)

    def url(self, env_var: str, what: str) -> str:
        value = os.environ.get(env_var, "").strip()
        if not value:
            self.missing(f"set {env_var} to run {what}")
        return value


_gate = ServiceGate()


@pytest.fixture(scope="session")
def require_services() -> ServiceGate:
    return _gate


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async setup from a sync fixture, on a loop of its own in another thread, so it never
    meets the loops pytest-asyncio manages for the tests."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


# --- SQLite -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _run(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "medcab.db"
    # The template's engine is disposed, so its WAL is checkpointed: the main file is complete.
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


# --- PostgreSQL ---------------------------------------------------------------------------------


def _postgres_base_url() -> str:
    return _gate.url(POSTGRES_ENV, "PostgreSQL tests")


async def _admin(base_url: str, statement: str) -> None:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _create_postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    name = f"medcab_test_{os.getpid()}_{secrets.token_hex(4)}"
    _run(lambda: _admin(base_url, f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        _run(lambda: _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    url, drop = _create_postgres_database(_postgres_base_url())
    try:
        _run(lambda: upgrade(url))
        yield url
    finally:
        drop()


async def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            # A test that leaked an open transaction must fail the next one, not hang it.
            await connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            tables = (
                await connection.execute(
                    text(
                        "SELECT quote_ident(tablename) FROM pg_tables "
                        "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
                    )
                )
            ).scalars()
            names = ", ".join(tables)
            if names:
                await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    _postgres_base_url()  # skip (or fail) before creating anything
    url: str = request.getfixturevalue("_postgres_database")
    _run(lambda: _truncate_all(url))
    return url


# --- Both ---------------------------------------------------------------------------------------


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        return
    url, drop = _create_postgres_database(_postgres_base_url())
    try:
        yield url
    finally:
        drop()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_maker(engine)


@pytest.fixture
async def session(session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_maker() as session:
        yield session


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture
def redis_url(require_services: ServiceGate) -> str:
    return require_services.url(REDIS_ENV, "Redis tests")
