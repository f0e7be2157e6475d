"""The Dispatcher with the production middlewares and routers; used by run, demo, tests and benches."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.middlewares.database import DatabaseSessionMiddleware
from bot.middlewares.dedup import DeduplicateUpdatesMiddleware, SeenUpdates
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.services import ServicesMiddleware
from handlers import get_routers
from handlers.render import Screens
from services.preferences import LanguageCache


def build_dispatcher(
    *,
    session_maker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    fsm_storage: BaseStorage,
    seen_updates: SeenUpdates,
    language_cache: LanguageCache,
    events_isolation: BaseEventIsolation | None = None,
    services: ServicesMiddleware | None = None,
) -> Dispatcher:
    dp = Dispatcher(storage=fsm_storage, events_isolation=events_isolation)
    # aiogram already put its error, user-context and FSM middlewares first; ours follow in
    # DESIGN.md's order: de-duplication, database session, locale.
    dp.update.outer_middleware(DeduplicateUpdatesMiddleware(seen_updates))
    dp.update.outer_middleware(DatabaseSessionMiddleware(session_maker))
    dp.update.outer_middleware(LocaleMiddleware(i18n, language_cache))
    if services is not None:
        dp.update.outer_middleware(services)
        # Inner middlewares run once a handler is chosen: it gets the services it names.
        for observer in (dp.message, dp.callback_query, dp.my_chat_member):
            observer.middleware(services.handler_services)
    # Error handlers run outside the locale middleware and need the catalogs.
    dp["i18n"] = i18n
    dp["screens"] = Screens()
    dp.include_routers(*get_routers())
    return dp
