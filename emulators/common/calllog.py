"""The record of every request an emulator answered on its public (non-control) endpoints.

Tests assert on what the client sent (parameters, headers, form fields) and what it got back,
rather than on the client's internals; the control API exposes the same record out of process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallRecord:
    seq: int
    time: float
    endpoint: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""
    status: int = 0
    fault: str | None = None
    duration: float = 0.0
    note: str | None = None  # what the emulator decided, e.g. an ESIA error code

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "form": self.form,
            "body": self.body,
            "status": self.status,
            "fault": self.fault,
            "duration": round(self.duration, 4),
            "note": self.note,
        }


class CallLog:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self._seq = 0

    def add(self, **fields: Any) -> CallRecord:
        self._seq += 1
        record = CallRecord(seq=self._seq, **fields)
        self.records.append(record)
        return record

    def filter(self, endpoint: str | None = None, *, after: int = 0) -> list[CallRecord]:
        return [r for r in self.records if r.seq > after and (endpoint is None or r.endpoint == endpoint)]

    def clear(self) -> None:
        self.records.clear()
