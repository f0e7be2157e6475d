"""The production dispatcher on a given database, as flows and benchmarks build it."""

from __future__ import annotations

from pathlib import Path

from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import build_dispatcher
from bot.i18n import make_i18n
from bot.middlewares.dedup import MemorySeenUpdates
from bot.middlewares.services import ServicesMiddleware
from services.preferences import LanguageCache
from storage.fsm import SQLStorage

LOCALES = Path(__file__).resolve().parents[2] / "locales"


def production_dispatcher(
    session_maker: async_sessionmaker[AsyncSession], storage: SQLStorage, services: ServicesMiddleware
) -> Dispatcher:
    """Languages cached and update ids remembered in memory, as one bot process does."""
    return build_dispatcher(
        session_maker=session_maker,
        i18n=make_i18n(LOCALES),
        fsm_storage=storage,
        seen_updates=MemorySeenUpdates(),
        language_cache=LanguageCache(),
        services=services,
    )
