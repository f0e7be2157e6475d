"""Filters that stay on the event loop.

aiogram runs a synchronous filter (a bare ``F.…`` magic filter is one) in a worker thread for
every update it sees; on a router-wide filter that was four thread hops per message. ``magic``
wraps a magic filter in a coroutine, so it is evaluated inline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, TelegramObject
from magic_filter import MagicFilter


def magic(rule: MagicFilter) -> Callable[[TelegramObject], Awaitable[Any]]:
    async def check(event: TelegramObject) -> Any:
        return rule.resolve(event)

    return check


class CallbackPrefixes(Filter):
    """Passes a callback whose data starts with one of ``prefixes`` (then its separator)."""

    def __init__(self, prefixes: set[tuple[str, str]]) -> None:
        self._bare = frozenset(prefix for prefix, _ in prefixes)  # a CallbackData without fields
        self._prefixes = frozenset(prefix + separator for prefix, separator in prefixes)
        self._lengths = sorted({len(prefix) for prefix in self._prefixes})

    async def __call__(self, query: CallbackQuery) -> bool:
        data = query.data or ""
        return data in self._bare or any(data[:length] in self._prefixes for length in self._lengths)


def gate_callbacks(router: Router) -> None:
    """Let a router's callback handlers be tried only for the callback-data prefixes they know.

    aiogram tries every handler of every router in turn; a button of the 16th router used to
    unpack its data with some fifty filters first. When each callback handler of ``router``
    filters by a CallbackData class, one check of the prefix skips the whole router for others'
    buttons. A router with any other kind of callback handler (a catch-all) is left as it is.
    """
    prefixes: set[tuple[str, str]] = set()
    for handler in router.callback_query.handlers:
        found = [f.callback.callback_data for f in handler.filters or () if isinstance(f.callback, CallbackQueryFilter)]
        if not found:
            return
        prefixes.update((data.__prefix__, data.__separator__) for data in found)
    if prefixes:
        router.callback_query.filter(CallbackPrefixes(prefixes))
