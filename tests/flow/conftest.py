"""The flow layer: the production dispatcher (all middlewares and routers) fed updates directly.

The database is a real SQLite file migrated with alembic; Telegram is an in-process session that
records what the bot said.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.identity import Identity
from bot.keys import Crypto
from bot.middlewares.services import ServicesMiddleware
from services.audit import AuditBuffer
from services.identity.access import SecurityPolicy
from services.read_cache import ReadCache
from storage.changes import ChangeEpochs
from storage.crypto import BlindIndex, FieldCipher, generate_key
from storage.db import create_engine, make_session_maker
from storage.fsm import SQLStorage
from tests.support.dispatcher import production_dispatcher
from tests.support.fake_session import FakeSession, make_fake_bot

LOCALES = Path(__file__).resolve().parents[2] / "locales"


class Flow:
    """A doctor's chat with the bot, as seen from the phone, plus a look into the database."""

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        session: FakeSession,
        engine: AsyncEngine,
        session_maker: async_sessionmaker[AsyncSession],
        storage: SQLStorage,
        cache: ReadCache | None = None,
        audit: AuditBuffer | None = None,
    ) -> None:
        self.dp = dp
        self.bot = bot
        self.session = session
        self.engine = engine
        self.session_maker = session_maker
        self.storage = storage
        self.cache = cache
        self.audit = audit

    def dispatcher(
        self, crypto: Crypto | None = None, identity: Identity | None = None, policy: SecurityPolicy | None = None
    ) -> Dispatcher:
        """The production dispatcher on this flow's database, read cache and audit buffer."""
        return make_flow_dispatcher(
            self.session_maker, self.storage, crypto, identity, policy, cache=self.cache, audit=self.audit
        )

    async def feed(self, update: Update) -> FakeSession:
        self.session.clear()
        await self.dp.feed_update(self.bot, update)
        return self.session


@pytest.fixture
def db_url(database_url: str) -> str:
    """Every flow runs on SQLite and on PostgreSQL (see tests/conftest.py)."""
    return database_url


def make_test_crypto() -> Crypto:
    return Crypto(cipher=FieldCipher({"t1": generate_key()}, "t1"), index=BlindIndex(generate_key()))


def make_flow_dispatcher(
    session_maker: async_sessionmaker[AsyncSession],
    storage: SQLStorage,
    crypto: Crypto | None = None,
    identity: Identity | None = None,
    policy: SecurityPolicy | None = None,
    *,
    cache: ReadCache | None = None,
    audit: AuditBuffer | None = None,
) -> Dispatcher:
    services = ServicesMiddleware(
        crypto or make_test_crypto(), identity, policy or SecurityPolicy(), cache=cache, audit=audit
    )
    return production_dispatcher(session_maker, storage, services)


@pytest.fixture
async def flow(db_url: str) -> AsyncIterator[Flow]:
    engine = create_engine(db_url)
    # Wired as in production: commits bump change epochs, the read cache serves unchanged reads,
    # reads of patient data are audited in batches. Every flow thus checks the cache is told.
    epochs = ChangeEpochs()
    session_maker = make_session_maker(engine, epochs)
    storage = SQLStorage(session_maker)
    session = FakeSession()
    bot = make_fake_bot(session)
    cache, audit = ReadCache(epochs), AuditBuffer(session_maker, delay=0.01)
    flow = Flow(
        make_flow_dispatcher(session_maker, storage, cache=cache, audit=audit),
        bot, session, engine, session_maker, storage, cache, audit,
    )
    yield flow
    await audit.close()
    await storage.close()
    await bot.session.close()
    await engine.dispose()
