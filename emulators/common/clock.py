"""The emulator's notion of time.

Authorize timestamps, code lifetimes and token expiry are all judged against this clock, so a test
can replay a request signed at a fixed moment (the GOST vector carries `2026.11.25 12:00:00 +0300`)
or jump past a code's lifetime without sleeping.
"""

from __future__ import annotations

import time
from typing import Any


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None

    def time(self) -> float:
        """Seconds since the epoch as the emulator sees them."""
        if self._frozen is not None:
            return self._frozen
        return time.time() + self._offset

    def now(self) -> int:
        return int(self.time())

    def set(self, epoch: float, *, frozen: bool = False) -> None:
        """Make the clock read `epoch` now; it keeps ticking from there unless `frozen`."""
        if frozen:
            self._frozen = float(epoch)
        else:
            self._frozen = None
            self._offset = float(epoch) - time.time()

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0
        self._frozen = None

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time(), "offset": self._offset, "frozen": self._frozen is not None}
