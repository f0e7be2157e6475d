"""The emulator's notion of time.

Tests need to jump past Telegram's time limits (a callback query expires after 15 minutes, updates
are dropped after 24 hours) without sleeping, so every time-dependent rule asks this clock, and
`advance()` shifts both wall and monotonic time together.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0

    def time(self) -> float:
        """Wall time in seconds since the epoch (message dates, update ages)."""
        return time.time() + self._offset

    def monotonic(self) -> float:
        """Monotonic seconds, for rate-limit windows that must not jump with the system clock."""
        return time.monotonic() + self._offset

    def now(self) -> int:
        """Unix time as Telegram reports it in `date` fields: whole seconds."""
        return int(self.time())

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0
