"""Resolve the user's language (cached, no write per update) and make gettext speak it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n

from services.preferences import LanguageCache, PreferencesService
from services.uow import UnitOfWork


class LocaleMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n, cache: LanguageCache) -> None:
        self._i18n = i18n
        self._cache = cache

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        locale = self._i18n.default_locale
        if user is not None:
            uow: UnitOfWork = data["uow"]
            locale = await PreferencesService(uow, self._cache).language_of(user.id, default=locale)
        data["locale"] = locale
        data["i18n"] = self._i18n
        data["language_cache"] = self._cache
        with self._i18n.context(), self._i18n.use_locale(locale):
            return await handler(event, data)
