"""`GET /idp/ext/Logout?client_id=…&redirect_url=…`: end the ESIA session and go back.

The return address is checked like an authorize redirect_uri; a bad one gets an HTML page, never
a redirect. Without a session cookie (a bot's server calling it directly) every session opened
through that client ends, which is what a test usually wants to observe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from emulators.common.server import NOTE

from .authorize import SSO_COOKIE, html_error
from .grants import Logout
from .signin_page import message_page

if TYPE_CHECKING:
    from .server import EsiaEmulator

LOGOUT_PATH = "/idp/ext/Logout"


class LogoutEndpoint:
    def __init__(self, emulator: EsiaEmulator) -> None:
        self.emu = emulator

    async def handle(self, request: web.Request) -> web.Response:
        emu = self.emu
        client_id = request.query.get("client_id", "")
        client = emu.clients.get(client_id)
        if client is None:
            request[NOTE] = "ESIA-007002"
            return html_error(400, "007002", "Система не зарегистрирована", f"Неизвестная система «{client_id}».")
        redirect_url = request.query.get("redirect_url") or None
        if redirect_url is not None and not client.redirect_allowed(redirect_url):
            request[NOTE] = "ESIA-007023"
            return html_error(400, "007023", "Адрес возврата не разрешён", f"Адрес {redirect_url} не разрешён.")
        cookie_sid = request.cookies.get(SSO_COOKIE)
        if cookie_sid:
            sids = [cookie_sid]
        else:
            sids = [s.sid for s in emu.grants.sessions.values() if client_id in s.client_ids]
        ended = emu.grants.end_sessions(sids)
        emu.grants.logouts.append(Logout(emu.clock.time(), client_id, redirect_url, ended))
        request[NOTE] = f"logout, {len(ended)} session(s) ended"
        if redirect_url is None:
            response = web.Response(
                text=message_page("Вы вышли", "Сеанс работы с порталом завершён."), content_type="text/html"
            )
        else:
            response = web.Response(status=302, headers={"Location": redirect_url})
        response.del_cookie(SSO_COOKIE, path="/")
        return response
