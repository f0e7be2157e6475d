"""Wake-ups for long polls.

getUpdates, the chat page's `?wait=` and the Python `wait_for_*` helpers all wait for "something
changed". A single event that is replaced after each notification lets any number of waiters sleep
without polling, and `close()` releases them all at once so `TelegramEmulator.stop()` is immediate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Closed(Exception):
    """Raised to a waiter when the emulator shuts down."""


class Notifier:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def close(self) -> None:
        self._closed = True
        self._event.set()

    def reopen(self) -> None:
        self._closed = False
        self._event = asyncio.Event()

    # A plain timeout argument: callers pass the long-poll duration the client asked for.
    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until `predicate()` holds (True) or `timeout` seconds pass (False).

        The predicate is re-checked after every notification, so it may be about any state.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            if predicate():
                return True
            if self._closed:
                raise Closed
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._event
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return predicate()

    async def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the emulator closes (slow-answer faults, webhook backoff)."""
        if seconds <= 0 or self._closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            event = self._event
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return
