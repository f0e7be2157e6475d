"""The record of every Bot API call the emulator answered.

Tests assert on what the bot did (which methods, which parameters, which file bytes) rather than on
its internals, and the control API exposes the same record to out-of-process tests.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from .notifier import Notifier
from .params import Upload


@dataclass
class CallRecord:
    seq: int
    time: float
    bot_id: int | None
    method: str
    params: dict[str, Any]
    files: list[Upload] = field(default_factory=list)
    status: int = 200
    result: Any = None
    error: str | None = None
    retry_after: int | None = None
    duration: float = 0.0
    source: str = "http"  # "http", or "webhook_reply" for a call returned in a webhook response

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self, *, with_data: bool = True) -> dict[str, Any]:
        files = []
        for upload in self.files:
            entry: dict[str, Any] = {
                "field": upload.field,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "size": len(upload.data),
            }
            if with_data:
                entry["data_base64"] = base64.b64encode(upload.data).decode("ascii")
            files.append(entry)
        return {
            "seq": self.seq,
            "time": self.time,
            "bot_id": self.bot_id,
            "method": self.method,
            "params": self.params,
            "files": files,
            "status": self.status,
            "ok": self.ok,
            "result": self.result,
            "error": self.error,
            "retry_after": self.retry_after,
            "duration": round(self.duration, 4),
            "source": self.source,
        }


class CallLog:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.records: list[CallRecord] = []
        self._seq = 0
        # Calls being answered right now (a long poll is recorded only when it returns).
        self.active: dict[int, str] = {}
        self._ticket = 0

    def begin(self, method: str) -> int:
        self._ticket += 1
        self.active[self._ticket] = method
        self.notifier.notify()
        return self._ticket

    def end(self, ticket: int) -> None:
        self.active.pop(ticket, None)

    def active_count(self, method: str | None = None) -> int:
        name = method.lower() if method else None
        return sum(1 for m in self.active.values() if name is None or m.lower() == name)

    def add(self, **fields: Any) -> CallRecord:
        self._seq += 1
        record = CallRecord(seq=self._seq, **fields)
        self.records.append(record)
        self.notifier.notify()
        return record

    def filter(
        self, method: str | None = None, *, bot_id: int | None = None, after: int = 0, ok: bool | None = None
    ) -> list[CallRecord]:
        name = method.lower() if method else None
        return [
            r
            for r in self.records
            if r.seq > after
            and (name is None or r.method.lower() == name)
            and (bot_id is None or r.bot_id == bot_id)
            and (ok is None or r.ok == ok)
        ]

    async def wait_for(
        self,
        method: str | None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        include_active: bool = False,
    ) -> list[CallRecord]:
        """Wait until at least `count` calls of `method` are recorded (or, with `include_active`,
        recorded or being answered); raise TimeoutError otherwise."""

        def seen() -> int:
            return len(self.filter(method)) + (self.active_count(method) if include_active else 0)

        if not await self.notifier.wait_for(lambda: seen() >= count, timeout):
            found = seen()
            raise TimeoutError(f"expected {count} {method or 'any'} call(s) within {timeout}s, got {found}")
        return self.filter(method)

    def clear(self) -> None:
        self.records.clear()
