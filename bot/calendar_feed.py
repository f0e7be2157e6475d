"""GET /calendar/{token}.ics: a doctor's personal calendar feed for calendar apps.

The token is the only credential (calendar apps cannot sign in), so it is long, random, stored
hashed and revocable from the chat; an unknown or revoked token gets a plain 404 — the same
answer as a path that never existed. The feed has times and clinics, never patient names.
"""

from __future__ import annotations

from aiogram.utils.i18n import I18n
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.errors import N_
from services.schedule.calendar import FEED_PATH, feed_ics
from services.uow import UnitOfWork

TITLE = N_("Appointments")


def feed_routes(session_maker: async_sessionmaker[AsyncSession], i18n: I18n) -> list[web.RouteDef]:
    async def feed(request: web.Request) -> web.Response:
        title = i18n.gettext(TITLE, locale=i18n.default_locale)
        async with UnitOfWork(session_maker) as uow:
            content = await feed_ics(uow, request.match_info["token"], title)
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=content,
            content_type="text/calendar",
            charset="utf-8",
            headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
        )

    return [web.get(FEED_PATH, feed)]
