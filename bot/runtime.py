"""Everything a running bot holds, built in one place and closed in reverse order.

``python -m bot``, ``demo``, the end-to-end tests and the benchmarks all build the process
through here, so what is tested is what runs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.dispatcher import build_dispatcher
from bot.documents import install_document_signer
from bot.i18n import make_i18n
from bot.identity import Identity, build_identity, security_policy
from bot.keys import Crypto
from bot.middlewares.dedup import MemorySeenUpdates, RedisSeenUpdates, SeenUpdates
from bot.middlewares.services import ServicesMiddleware
from bot.settings import DEFAULT_TELEGRAM_API_URL, Settings
from services.audit import AuditBuffer
from services.preferences import LanguageCache
from services.read_cache import ReadCache
from storage.changes import ChangeEpochs, RedisChangeEpochs
from storage.db import check_connection, create_engine, make_session_maker
from storage.fsm import SQLStorage, make_redis_storage

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    i18n: I18n
    bot: Bot
    dispatcher: Dispatcher
    redis: Redis | None
    webhook_secret: str
    crypto: Crypto
    identity: Identity | None
    # Where the web pages send the doctor back: t.me/<bot>, or the chat page in demo.
    back_url: str = "https://t.me/"


def webhook_secret_for(settings: Settings, token: str) -> str:
    """The webhook's secret token: the setting, or one derived from the bot token.

    Derived, not random, so every process behind a load balancer checks the same value.
    """
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return hmac.new(token.encode(), b"medcab-webhook-secret", hashlib.sha256).hexdigest()


def make_bot(token: str, api_url: str) -> Bot:
    session = AiohttpSession()
    if api_url != DEFAULT_TELEGRAM_API_URL:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@asynccontextmanager
async def build_runtime(settings: Settings, token: str, crypto: Crypto) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await check_connection(engine)
        i18n = make_i18n(settings.locales_dir, settings.default_locale)

        redis: Redis | None = None
        fsm_storage: BaseStorage
        seen: SeenUpdates
        isolation: BaseEventIsolation
        # What each commit changed, for the read caches: in this process, or for all of them.
        epochs = ChangeEpochs()
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
            await redis.ping()  # type: ignore[misc]  # redis-py types ping() for sync and async clients
            epochs = RedisChangeEpochs(redis)
        session_maker = make_session_maker(engine, epochs)
        # Records of reads are written in batches; what waits is written at shutdown (closed
        # before the engine, which the stack disposes of after).
        audit = AuditBuffer(session_maker)
        stack.push_async_callback(audit.close)
        if redis is not None:
            fsm_storage = make_redis_storage(redis)
            seen = RedisSeenUpdates(redis)
            isolation = RedisEventIsolation(redis)
        else:
            fsm_storage = SQLStorage(session_maker)
            seen = MemorySeenUpdates()
            isolation = SimpleEventIsolation()
        stack.push_async_callback(fsm_storage.close)

        bot = make_bot(token, settings.telegram_api_url)
        stack.push_async_callback(bot.session.close)
        # One HTTP client for ESIA and the register: connection reuse, one place to close it.
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
        identity = build_identity(settings, http)
        dispatcher = build_dispatcher(
            session_maker=session_maker,
            i18n=i18n,
            fsm_storage=fsm_storage,
            seen_updates=seen,
            language_cache=LanguageCache(),
            events_isolation=isolation,
            services=ServicesMiddleware(
                crypto, identity, security_policy(settings), cache=ReadCache(epochs), audit=audit
            ),
        )
        install_document_signer(dispatcher, settings, http)
        dispatcher["public_url"] = settings.public_url  # the calendar feed link shown in the chat
        yield Runtime(
            settings=settings,
            engine=engine,
            session_maker=session_maker,
            i18n=i18n,
            bot=bot,
            dispatcher=dispatcher,
            redis=redis,
            webhook_secret=webhook_secret_for(settings, token),
            crypto=crypto,
            identity=identity,
            back_url=f"https://t.me/{settings.bot_username}" if settings.bot_username else "https://t.me/",
        )
