"""The one aiohttp application: Telegram webhook (checked by its secret token) and /healthz.

Later features (the ESIA callback, the calendar feed, metrics) add their routes here.
"""

from __future__ import annotations

import logging

from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy import text

from bot.calendar_feed import feed_routes
from bot.runtime import Runtime
from bot.web_auth import AuthPages

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
RUNTIME_KEY = web.AppKey("runtime", Runtime)


async def _healthz(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME_KEY]
    checks: dict[str, str] = {}
    healthy = True
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
        healthy = False
    if runtime.redis is not None:
        try:
            await runtime.redis.ping()  # type: ignore[misc]  # redis-py types ping() for both clients
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unavailable"
            healthy = False
    return web.json_response({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def build_web_app(runtime: Runtime, *, webhook: bool) -> web.Application:
    app = web.Application()
    app[RUNTIME_KEY] = runtime
    app.router.add_get("/healthz", _healthz)
    app.add_routes(feed_routes(runtime.session_maker, runtime.i18n))
    if runtime.identity is not None:
        pages = AuthPages(
            identity=runtime.identity,
            session_maker=runtime.session_maker,
            crypto=runtime.crypto,
            i18n=runtime.i18n,
            bot=runtime.bot,
            back_url=lambda: runtime.back_url,
        )
        app.add_routes(pages.routes())
    if webhook:
        SimpleRequestHandler(
            dispatcher=runtime.dispatcher,
            bot=runtime.bot,
            secret_token=runtime.webhook_secret,
        ).register(app, path=WEBHOOK_PATH)
    return app
