"""Results of frequent reads kept in memory while what they read is unchanged.

A doctor paging through the day asks the same questions again and again (who is this account,
may it see patients, what is on Thursday); each answer is kept with the change keys it depends
on (``storage.changes``) and the sequence number taken before it was read. It is served again
only while none of those keys changed since, before its own time bound (the next free slot
passing, midnight for the patients' ages) and before a short expiry that bounds what writers
outside the bot's sessions could leave stale.

Entries hold decrypted data in process memory, as the request that read them did; the cache is
bounded and nothing from it is logged.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.changes import ChangeEpochs, dependency_keys


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    keys: tuple[str, ...]
    since: int
    expires: float  # time.monotonic()
    valid_until: datetime | None  # by the service's clock


class ReadCache:
    def __init__(self, epochs: ChangeEpochs, max_entries: int = 5_000, ttl: float = 60.0) -> None:
        self.epochs = epochs
        self._max_entries = max_entries
        self._ttl = ttl
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def begin(self) -> int | None:
        """Take before reading what will be stored; None: do not store this time."""
        return await self.epochs.begin()

    async def get(self, key: Hashable, now: datetime | None = None) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        fresh = entry.expires > time.monotonic() and (
            entry.valid_until is None or now is None or now <= entry.valid_until
        )
        if not fresh or not await self.epochs.unchanged(entry.keys, entry.since):
            self._entries.pop(key, None)
            self.misses += 1
            return None
        self.hits += 1
        return entry.value

    def put(
        self,
        key: Hashable,
        value: Any,
        depends_on: Iterable[str],
        since: int | None,
        valid_until: datetime | None = None,
    ) -> None:
        if since is None:
            return
        self._entries[key] = _Entry(
            value, dependency_keys(depends_on), since, time.monotonic() + self._ttl, valid_until
        )
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
