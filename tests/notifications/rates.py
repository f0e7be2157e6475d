"""Checking observed send times against a rate."""

from __future__ import annotations

from collections.abc import Iterable


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most events in any half-open window (t - window, t], as Telegram counts them."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window + 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best
