"""Planned failures: the next N requests to an endpoint fail in a chosen way.

Real ESIA and ЕГИСЗ answer some failures with an HTML 500 page, some with a 503 JSON body during
maintenance, and sometimes answer only after the client has given up; a client must survive all
three, so tests schedule them here instead of hoping to meet them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

FaultKind = Literal["html500", "unavailable", "slow"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
ANY_ENDPOINT = "*"


@dataclass
class Fault:
    id: int
    endpoint: str  # an endpoint name, or "*" for every public endpoint
    kind: FaultKind
    remaining: int | None  # None: until cleared
    delay: float = 0.0  # seconds, for "slow"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "remaining": self.remaining,
            "delay": self.delay,
        }


class FaultPlan:
    def __init__(self, endpoints: tuple[str, ...]) -> None:
        self.endpoints = endpoints
        self.faults: list[Fault] = []
        self._next_id = 0

    def add(self, endpoint: str, kind: str, count: int | None = 1, delay: float = 0.0) -> Fault:
        if endpoint != ANY_ENDPOINT and endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {', '.join(self.endpoints)} or '*'")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or null for 'until cleared')")
        if kind == "slow" and delay <= 0:
            raise ValueError("a slow fault needs a positive delay")
        self._next_id += 1
        fault = Fault(self._next_id, endpoint, cast(FaultKind, kind), count, float(delay))
        self.faults.append(fault)
        return fault

    def take(self, endpoint: str) -> Fault | None:
        """The fault for this request, if one is planned; counts it down."""
        for fault in self.faults:
            if fault.endpoint in (endpoint, ANY_ENDPOINT):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()
