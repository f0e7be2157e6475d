"""Filters that stay on the event loop.

aiogram runs a synchronous filter (a bare ``F.…`` magic filter is one) in a worker thread for
every update it sees; on a router-wide filter that was four thread hops per message. ``magic``
wraps a magic filter in a coroutine, so it is evaluated inline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import TelegramObject
from magic_filter import MagicFilter


def magic(rule: MagicFilter) -> Callable[[TelegramObject], Awaitable[Any]]:
    async def check(event: TelegramObject) -> Any:
        return rule.resolve(event)

    return check
