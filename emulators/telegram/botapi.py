"""The Bot API endpoints: `/bot<token>/<method>` and `/file/bot<token>/<path>`.

`execute` is the single path every call takes (HTTP or a webhook's reply): method lookup, injected
faults, flood limits, the handler, and the call log entry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .calllog import CallLog
from .errors import NOT_FOUND, UNAUTHORIZED, ApiError
from .limits import FaultPlan, RateLimiter
from .methods import Call, WebhookControl, lookup
from .params import Params, Upload, read_request
from .settings import Settings
from .store import BotAccount, Store

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: int
    payload: dict[str, Any]
    drop: bool = False


class BotApi:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        limiter: RateLimiter,
        faults: FaultPlan,
        calls: CallLog,
        webhooks: WebhookControl,
    ) -> None:
        self.store = store
        self.settings = settings
        self.limiter = limiter
        self.faults = faults
        self.calls = calls
        self.webhooks = webhooks

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/bot{token}/{method}", self.handle),
            web.get("/file/bot{token}/{path:.+}", self.download),
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        name = request.match_info["method"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        values: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        bot = self.store.bots.get(token)
        try:
            values, uploads = await read_request(request)
        except ApiError as error:
            outcome = Outcome(error.status, error.payload())
            self._record(bot, name, values, uploads, outcome, started, "http")
            return web.json_response(outcome.payload, status=outcome.status)
        if bot is None:
            outcome = Outcome(UNAUTHORIZED.status, UNAUTHORIZED.payload())
            self._record(None, name, values, uploads, outcome, started, "http")
        else:
            outcome = await self.execute(bot, name, values, uploads, source="http")
        if outcome.drop:
            # An injected connection drop: close the socket without an answer.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return web.json_response(outcome.payload, status=outcome.status)

    async def execute(
        self,
        bot: BotAccount,
        name: str,
        values: dict[str, Any],
        uploads: dict[str, Upload],
        *,
        source: str,
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        entry = lookup(name)
        canonical = entry[0] if entry else name
        ticket = self.calls.begin(canonical)
        try:
            if entry is None:
                raise NOT_FOUND
            _, handler = entry
            # Faults script what Telegram's servers do to the bot's own requests, not webhook replies.
            fault = self.faults.take(canonical) if source == "http" else None
            if fault is not None:
                await self.store.notifier.sleep(fault.delay)
                if fault.drop:
                    outcome = Outcome(0, {}, drop=True)
                    self.calls.end(ticket)
                    self._record(bot, canonical, values, uploads, outcome, started, source)
                    return outcome
                error = fault.error()
                if error is not None:
                    raise error
            self.limiter.check(bot.id, canonical, values.get("chat_id"))
            result = await handler(
                Call(self.store, bot, Params(values, uploads), self.settings, self.webhooks, canonical)
            )
            outcome = Outcome(200, {"ok": True, "result": result})
        except ApiError as error:
            outcome = Outcome(error.status, error.payload())
        finally:
            self.calls.end(ticket)
        self._record(bot, canonical, values, uploads, outcome, started, source)
        return outcome

    def _record(
        self,
        bot: BotAccount | None,
        method: str,
        values: dict[str, Any],
        uploads: dict[str, Upload],
        outcome: Outcome,
        started: float,
        source: str,
    ) -> None:
        payload = outcome.payload
        error: str | None = None
        if outcome.drop:
            error = "connection dropped (injected fault)"
        elif not payload.get("ok"):
            error = str(payload.get("description"))
        self.calls.add(
            time=self.store.clock.time(),
            bot_id=bot.id if bot else None,
            method=method,
            params=values,
            files=list(uploads.values()),
            status=outcome.status,
            result=payload.get("result"),
            error=error,
            retry_after=(payload.get("parameters") or {}).get("retry_after"),
            duration=asyncio.get_running_loop().time() - started,
            source=source,
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        bot = self.store.bots.get(request.match_info["token"])
        if bot is None:
            return web.json_response(UNAUTHORIZED.payload(), status=401)
        record = self.store.files.by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response(NOT_FOUND.payload(), status=404)
        return web.Response(body=record.data, content_type=record.mime_type or "application/octet-stream")
