"""A Telegram user's preferences that exist before (and without) linking to a doctor: language."""

from __future__ import annotations

import time
from collections import OrderedDict
from enum import StrEnum

from services.errors import N_, DomainError
from services.uow import UnitOfWork
from storage.repositories.telegram_accounts import TelegramAccountRepository


class Language(StrEnum):
    RU = "ru"
    EN = "en"


SUPPORTED_LANGUAGES = frozenset(lang.value for lang in Language)


class LanguageCache:
    """Remembered languages by Telegram user id, so resolving the locale costs no query per update.

    Bounded (oldest entries dropped) and time-limited: with several bot processes, another
    process's change is seen after at most ``ttl`` seconds.
    """

    def __init__(self, max_size: int = 50_000, ttl: float = 300.0) -> None:
        self._max_size = max_size
        self._ttl = ttl
        self._entries: OrderedDict[int, tuple[str, float]] = OrderedDict()

    def get(self, user_id: int) -> str | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        language, stored_at = entry
        if time.monotonic() - stored_at > self._ttl:
            del self._entries[user_id]
            return None
        return language

    def put(self, user_id: int, language: str) -> None:
        self._entries[user_id] = (language, time.monotonic())
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def forget(self, user_id: int) -> None:
        self._entries.pop(user_id, None)


class PreferencesService:
    def __init__(self, uow: UnitOfWork, cache: LanguageCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    async def language_of(self, telegram_user_id: int, default: str) -> str:
        """The remembered language, or ``default`` for someone who never chose one."""
        if self._cache is not None and (cached := self._cache.get(telegram_user_id)) is not None:
            return cached
        account = await TelegramAccountRepository(self._uow.session).get(telegram_user_id)
        language = account.locale if account is not None and account.locale in SUPPORTED_LANGUAGES else default
        if self._cache is not None:
            self._cache.put(telegram_user_id, language)
        return language

    async def remember_user(self, telegram_user_id: int, chat_id: int) -> bool:
        """Record a user who said /start (one write per /start, not per message); True if already
        linked to a doctor."""
        accounts = TelegramAccountRepository(self._uow.session)
        account = await accounts.upsert(telegram_user_id, chat_id)
        # /start after unblocking the bot: notifications to this user resume.
        await accounts.mark_reachable(telegram_user_id)
        await self._uow.commit()
        return account.doctor_id is not None

    async def set_language(self, telegram_user_id: int, chat_id: int, language: str) -> Language:
        if language not in SUPPORTED_LANGUAGES:
            raise DomainError(N_("This language is not supported. Choose Russian or English."))
        repo = TelegramAccountRepository(self._uow.session)
        await repo.upsert(telegram_user_id, chat_id)
        await repo.set_locale(telegram_user_id, language)
        await self._uow.commit()
        if self._cache is not None:
            self._cache.put(telegram_user_id, language)
        return Language(language)
