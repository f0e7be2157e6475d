"""Flood limits and injected faults.

Telegram's limits are unpublished and vary, so they are settings here, off by default: a sliding
window per key (overall, and per chat) answering 429 with `retry_after` in whole seconds, the only
signal a bot gets in production. Faults let a test script the failures a bot must survive: a queue
per method (consumed in order, one per call) and an optional seeded random fault rate.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .errors import ApiError, too_many_requests

# Calls that post a message and therefore count against flood limits.
_COUNTED_EXTRA = frozenset({"copymessage", "copymessages", "forwardmessage", "forwardmessages"})


def counts_as_message(method: str) -> bool:
    name = method.lower()
    return (name.startswith("send") and name != "sendchataction") or name in _COUNTED_EXTRA


@dataclass
class Limits:
    """Messages allowed per window; None disables a rule."""

    global_per_second: float | None = None
    per_chat_per_second: float | None = None
    per_chat_per_minute: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "global_per_second": self.global_per_second,
            "per_chat_per_second": self.per_chat_per_second,
            "per_chat_per_minute": self.per_chat_per_minute,
        }


class SlidingWindow:
    """At most `limit` events per `window` seconds per key."""

    def __init__(self) -> None:
        self._events: dict[Any, deque[float]] = {}

    @staticmethod
    def _shape(limit: float, window: float) -> tuple[int, float]:
        # A fractional rate (0.5/s) is one event per a longer window (2 s).
        if limit >= 1:
            return math.floor(limit), window
        return 1, window / max(limit, 1e-9)

    def wait_time(self, key: Any, limit: float, window: float, now: float) -> int | None:
        """Whole seconds until one more event fits, or None if it fits now."""
        capacity, span = self._shape(limit, window)
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - span:
            events.popleft()
        if len(events) < capacity:
            return None
        return max(1, math.ceil(events[-capacity] + span - now))

    def record(self, key: Any, now: float) -> None:
        self._events.setdefault(key, deque()).append(now)

    def clear(self) -> None:
        self._events.clear()


class RateLimiter:
    def __init__(self, clock: Clock, limits: Limits | None = None) -> None:
        self.clock = clock
        self.limits = limits or Limits()
        self._window = SlidingWindow()

    def check(self, bot_id: int, method: str, chat_id: Any) -> None:
        """Raise 429 if this message-posting call exceeds a configured limit."""
        if not counts_as_message(method):
            return
        now = self.clock.monotonic()
        rules: list[tuple[Any, float, float]] = []
        limits = self.limits
        if limits.per_chat_per_second is not None and chat_id is not None:
            rules.append((("chat_s", bot_id, str(chat_id)), limits.per_chat_per_second, 1.0))
        if limits.per_chat_per_minute is not None and chat_id is not None:
            rules.append((("chat_m", bot_id, str(chat_id)), float(limits.per_chat_per_minute), 60.0))
        if limits.global_per_second is not None:
            rules.append((("global", bot_id), limits.global_per_second, 1.0))
        # Check every rule before recording, so a refused call does not use up another rule's budget.
        waits = [w for key, limit, window in rules if (w := self._window.wait_time(key, limit, window, now))]
        if waits:
            raise too_many_requests(max(waits))
        for key, _, _ in rules:
            self._window.record(key, now)

    def reset(self) -> None:
        self.limits = Limits()
        self._window.clear()


@dataclass
class Fault:
    """What to do instead of (or before) answering a call normally.

    `status` None means answer normally after `delay`; `drop` closes the connection unanswered.
    """

    status: int | None = None
    description: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def too_many_requests(cls, retry_after: int = 1) -> Fault:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @classmethod
    def bad_request(cls, description: str = "Bad Request: injected fault") -> Fault:
        if not description.startswith("Bad Request"):
            description = f"Bad Request: {description}"
        return cls(400, description)

    @classmethod
    def forbidden(cls, description: str = "Forbidden: bot was blocked by the user") -> Fault:
        return cls(403, description)

    @classmethod
    def not_found(cls) -> Fault:
        return cls(404, "Not Found")

    @classmethod
    def server_error(cls, description: str = "Internal Server Error") -> Fault:
        return cls(500, description)

    @classmethod
    def bad_gateway(cls) -> Fault:
        return cls(502, "Bad Gateway")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def disconnect(cls) -> Fault:
        return cls(drop=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build from the control API: {"kind": "retry_after", "retry_after": 3} or explicit fields."""
        kind = str(data.get("kind", "")).lower()
        delay = float(data.get("delay", 0) or 0)
        fault: Fault
        if kind in ("retry_after", "too_many_requests", "429"):
            fault = cls.too_many_requests(int(data.get("retry_after", 1)))
        elif kind in ("bad_request", "400"):
            fault = cls.bad_request(str(data.get("description", "Bad Request: injected fault")))
        elif kind in ("forbidden", "403"):
            fault = cls.forbidden(str(data.get("description", "Forbidden: bot was blocked by the user")))
        elif kind in ("not_found", "404"):
            fault = cls.not_found()
        elif kind in ("server_error", "500"):
            fault = cls.server_error(str(data.get("description", "Internal Server Error")))
        elif kind in ("bad_gateway", "502"):
            fault = cls.bad_gateway()
        elif kind in ("slow", "delay"):
            fault = cls.slow(delay)
        elif kind in ("drop", "disconnect"):
            fault = cls.disconnect()
        elif kind == "" and data.get("status") is not None:
            status = int(data["status"])
            retry_after = data.get("retry_after")
            fault = cls(
                status,
                str(data.get("description") or _default_description(status, retry_after)),
                retry_after=None if retry_after is None else int(retry_after),
            )
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        if delay and fault.status is not None:
            fault.delay = delay
        return fault

    def error(self) -> ApiError | None:
        if self.status is None:
            return None
        return ApiError(self.status, self.description or _default_description(self.status, self.retry_after),
                        retry_after=self.retry_after)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "description": self.description,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop": self.drop,
        }


def _default_description(status: int, retry_after: Any) -> str:
    return {
        400: "Bad Request: injected fault",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: injected fault",
        429: f"Too Many Requests: retry after {retry_after or 1}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(status, f"Error {status}")


@dataclass
class RandomFaults:
    rate: float
    seed: int | None
    methods: frozenset[str] | None
    faults: list[Fault]
    rng: random.Random = field(repr=False, default_factory=random.Random)


class FaultPlan:
    """Scripted faults per method (lower-case name, "*" for any) plus an optional random rate."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}
        self.random: RandomFaults | None = None

    def inject(self, method: str, fault: Fault, times: int = 1) -> None:
        queue = self._queues.setdefault(method.lower(), deque())
        queue.extend(fault for _ in range(times))

    def set_random(
        self,
        rate: float,
        *,
        seed: int | None = None,
        methods: list[str] | None = None,
        faults: list[Fault] | None = None,
    ) -> None:
        if rate <= 0:
            self.random = None
            return
        self.random = RandomFaults(
            rate=rate,
            seed=seed,
            methods=frozenset(m.lower() for m in methods) if methods else None,
            faults=faults or [Fault.too_many_requests(1), Fault.server_error(), Fault.bad_gateway()],
            rng=random.Random(seed),
        )

    def take(self, method: str) -> Fault | None:
        """The fault for this call, consuming it from its queue."""
        name = method.lower()
        for key in (name, "*"):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        plan = self.random
        if plan is not None and (plan.methods is None or name in plan.methods) and plan.rng.random() < plan.rate:
            return plan.rng.choice(plan.faults)
        return None

    def pending(self) -> dict[str, list[dict[str, Any]]]:
        return {method: [f.to_json() for f in queue] for method, queue in self._queues.items() if queue}

    def clear(self) -> None:
        self._queues.clear()
        self.random = None
