"""The chat page: one static HTML file (inline CSS and JavaScript, no build step, nothing external).

It talks only to the control API, so what a person clicks there is exactly what a test can do.
The Content-Security-Policy forbids any outside resource, keeping the page usable offline and
making an injection attempt in message text inert even if rendering had a bug.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'"
)


@cache
def _page() -> bytes:
    return (STATIC / "chat.html").read_bytes()


async def chat_page(request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=_page(),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def page_routes() -> list[web.RouteDef]:
    return [web.get("/", chat_page), web.get("/chat", chat_page)]
