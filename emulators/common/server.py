"""What every emulator shares: an aiohttp app started in-process on any port, the call log and
planned faults applied by one middleware, and the basic control routes under `/_emulator/`.

Public routes are named `<endpoint>` or `<endpoint>.<detail>`; the endpoint part is what faults
target and what the call log records. Unnamed routes (the control API) are neither logged nor
faulted, so a test's own bookkeeping never shows up in what it asserts on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

from aiohttp import web

from .calllog import CallLog
from .clock import Clock
from .faults import Fault, FaultPlan

PREFIX = "/_emulator"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonObject = dict[str, Any]
MAX_LOGGED_BODY = 64 * 1024
# What a handler decided (e.g. "ESIA-007014"), copied into the call log.
NOTE = web.RequestKey("emulator_note", str)
# Headers a test may want to assert on; others (cookies, user agents) are noise.
LOGGED_HEADERS = ("Authorization", "Content-Type", "Accept", "X-API-Key", "X-Request-Id")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def ok(data: Any = None) -> web.Response:
    body: JsonObject = {"ok": True}
    if data is not None:
        body["result"] = data
    return web.json_response(body, dumps=dumps)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def read_json(request: web.Request) -> JsonObject:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError as error:
        raise ControlError(400, f"invalid JSON body: {error}") from error
    if not isinstance(data, dict):
        raise ControlError(400, "a JSON object is expected")
    return data


def guarded(handler: Handler) -> Handler:
    """Control handlers raise; the test gets `{"ok": false, "error": …}` instead of a 500."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as error:
            status, message = error.status, error.message
        except KeyError as error:
            status, message = 404, f"not found: {error.args[0] if error.args else ''}"
        except (ValueError, TypeError) as error:
            status, message = 400, str(error)
        return web.json_response({"ok": False, "error": message}, status=status, dumps=dumps)

    return wrapper


def html_page(status: int, title: str, text: str) -> web.Response:
    body = (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


class EmulatorServer:
    """Base class: subclasses give `service`, `endpoints`, `public_routes()` and may extend
    `control_routes()`, `reset()` and `unavailable_response()`."""

    service: ClassVar[str] = "emulator"
    endpoints: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.clock = Clock()
        self.calls = CallLog()
        self.faults = FaultPlan(self.endpoints)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._stopping: asyncio.Event | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.public_routes())
        app.add_routes(self.control_routes())
        return app

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Listen on host:port (0 = any free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError(f"{self.service} emulator already started")
        self._stopping = asyncio.Event()
        # A short shutdown timeout: a request held by a "slow" fault must not hold up stop().
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        sockets = runner.addresses
        actual_port = sockets[0][1] if sockets else port
        shown_host = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown_host}:{actual_port}"
        return self._base_url

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> EmulatorServer:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"{self.service} emulator not started")
        return self._base_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up when the emulator stops (so a slow answer never delays stop())."""
        if self._stopping is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- what subclasses provide ----------------------------------------------------------------

    def public_routes(self) -> list[web.RouteDef]:
        return []

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/health", guarded(self._health)),
            web.post(f"{PREFIX}/reset", guarded(self._reset)),
            web.get(f"{PREFIX}/calls", guarded(self._list_calls)),
            web.delete(f"{PREFIX}/calls", guarded(self._clear_calls)),
            web.get(f"{PREFIX}/faults", guarded(self._list_faults)),
            web.post(f"{PREFIX}/faults", guarded(self._add_fault)),
            web.delete(f"{PREFIX}/faults", guarded(self._clear_faults)),
            web.get(f"{PREFIX}/clock", guarded(self._get_clock)),
            web.post(f"{PREFIX}/clock", guarded(self._set_clock)),
        ]

    def reset(self) -> None:
        """Back to the state right after construction (keeps listening)."""
        self.calls.clear()
        self.faults.clear()
        self.clock.reset()

    def unavailable_response(self) -> web.Response:
        return web.json_response(
            {"error": "temporarily_unavailable", "error_description": "Service temporarily unavailable"}, status=503
        )

    def internal_error_page(self) -> web.Response:
        return html_page(500, "500 Internal Server Error", "Внутренняя ошибка сервера. Повторите попытку позже.")

    def health(self) -> JsonObject:
        return {"service": self.service, "status": "up", "time": self.clock.time()}

    # --- faults (Python API) --------------------------------------------------------------------

    def fail_next(self, endpoint: str, kind: str = "html500", count: int | None = 1, delay: float = 0.0) -> Fault:
        """Make the next `count` requests to `endpoint` ("*" = any) fail: kind "html500",
        "unavailable" (503) or "slow" (answer normally after `delay` seconds)."""
        return self.faults.add(endpoint, kind, count, delay)

    # --- the middleware -------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route_name = request.match_info.route.name
        if not route_name:
            return await handler(request)
        endpoint = route_name.split(".", 1)[0]
        started = time.monotonic()
        record = self.calls.add(
            time=self.clock.time(),
            endpoint=endpoint,
            method=request.method,
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            headers={h: request.headers[h] for h in LOGGED_HEADERS if h in request.headers},
        )
        if request.can_read_body:
            raw = await request.read()  # cached: the handler can still read it
            record.body = raw[:MAX_LOGGED_BODY].decode("utf-8", "replace")
            if request.content_type == "application/x-www-form-urlencoded":
                record.form = parse_qs(record.body, keep_blank_values=True)
        fault = self.faults.take(endpoint)
        record.fault = fault.kind if fault is not None else None
        response: web.StreamResponse
        try:
            if fault is not None and fault.kind == "html500":
                response = self.internal_error_page()
            elif fault is not None and fault.kind == "unavailable":
                response = self.unavailable_response()
            else:
                if fault is not None:
                    await self.pause(fault.delay)
                response = await handler(request)
        except web.HTTPException as error:
            record.status = error.status
            record.duration = time.monotonic() - started
            raise
        record.status = response.status
        record.duration = time.monotonic() - started
        record.note = request.get(NOTE)
        return response

    # --- control handlers -----------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return ok(self.health())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return ok()

    async def _list_calls(self, request: web.Request) -> web.Response:
        endpoint = request.query.get("endpoint")
        after = int(request.query.get("after", "0"))
        return ok([r.to_json() for r in self.calls.filter(endpoint, after=after)])

    async def _clear_calls(self, request: web.Request) -> web.Response:
        self.calls.clear()
        return ok()

    async def _list_faults(self, request: web.Request) -> web.Response:
        return ok([f.to_json() for f in self.faults.faults])

    async def state_fault(self, kind: str, data: JsonObject) -> web.Response | None:
        """Faults that change the emulator's state instead of failing requests (a subclass's
        own kinds); None when `kind` is not one of them."""
        return None

    async def _add_fault(self, request: web.Request) -> web.Response:
        """`{"endpoint", "kind": "html500"|"unavailable"|"slow", "count" (null: until cleared),
        "delay"}`, or a subclass's state fault kind."""
        data = await read_json(request)
        kind = str(data.get("kind", "html500"))
        special = await self.state_fault(kind, data)
        if special is not None:
            return special
        count = data.get("count", 1)
        fault = self.fail_next(
            str(data.get("endpoint", "*")),
            kind,
            None if count is None else int(count),
            float(data.get("delay", 0.0)),
        )
        return ok(fault.to_json())

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return ok()

    async def _get_clock(self, request: web.Request) -> web.Response:
        return ok(self.clock.to_json())

    async def _set_clock(self, request: web.Request) -> web.Response:
        """`{"set": epoch, "frozen": bool}`, `{"advance": seconds}` or `{"reset": true}`."""
        data = await read_json(request)
        if data.get("reset"):
            self.clock.reset()
        if "set" in data:
            self.clock.set(float(data["set"]), frozen=bool(data.get("frozen", False)))
        if "advance" in data:
            self.clock.advance(float(data["advance"]))
        return ok(self.clock.to_json())
