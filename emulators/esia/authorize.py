"""`GET /aas/oauth2/v2/ac` and the sign-in that follows it.

Checks run in ESIA's order, each failing with its own code: client known → redirect_uri allowed
(both answered with an HTML page, never a redirect: the redirect target is not trusted yet) →
mandatory parameters → scope → timestamp → certificate hash → signature → PKCE. Then the person
signs in (page, or a test hook) and is sent back with `code` and `state`, or with an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from aiohttp import web

from emulators.common.server import NOTE

from .errors import EsiaError
from .grants import AuthorizeRequest
from .params import (
    PKCE_CHALLENGE,
    Params,
    check_certificate_hash,
    check_scopes,
    check_secret,
    check_state,
    check_timestamp,
)
from .personas import Persona
from .signin_page import error_page, signin_page

if TYPE_CHECKING:
    from .server import EsiaEmulator

AUTHORIZE_PATH = "/aas/oauth2/v2/ac"
SSO_COOKIE = "esia_emulator_sso"
CANCEL = "cancel"
# Parameters the signed string does not cover but ESIA still requires.
MANDATORY = ["client_certificate_hash", "client_secret", "response_type", "state", "timestamp", "access_type"]
PERSONA_PARAM = "_emulator_persona"


def signed_string(params: Params) -> str:
    """What `client_secret` signs at v2/ac: client_id + scope + scope_org + timestamp + state + redirect_uri."""
    return "".join(params.get(n) for n in ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri"))


def redirect_with(uri: str, params: dict[str, str]) -> web.Response:
    # A plain 302 response rather than a returned HTTPFound (aiohttp deprecates returning those).
    query = urlencode(params, quote_via=quote)
    separator = "&" if "?" in uri else "?"
    return web.Response(status=302, headers={"Location": f"{uri}{separator}{query}"})


def error_redirect(uri: str, error: EsiaError, state: str) -> web.Response:
    params = {"error": error.error, "error_description": error.description}
    if state:
        params["state"] = state
    return redirect_with(uri, params)


def html_error(status: int, code: str, title: str, description: str) -> web.Response:
    return web.Response(status=status, text=error_page(code, title, description), content_type="text/html")


class Authorize:
    def __init__(self, emulator: EsiaEmulator) -> None:
        self.emu = emulator

    async def handle(self, request: web.Request) -> web.StreamResponse:
        params = Params(request.query)
        # 1. The client must be registered; 2. the redirect must be one of its registered ones.
        client_id = params.get("client_id")
        client = self.emu.clients.get(client_id)
        if client is None or len(request.query.getall("client_id", [])) > 1:
            request[NOTE] = "ESIA-007002"
            return html_error(400, "007002", "Система не зарегистрирована", f"Неизвестная система «{client_id}».")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            request[NOTE] = "ESIA-007014"
            return html_error(400, "007014", "Неверный запрос", "Не указан адрес возврата [redirect_uri].")
        if len(request.query.getall("redirect_uri")) > 1 or not client.redirect_allowed(redirect_uri):
            request[NOTE] = "ESIA-007023"
            return html_error(
                400, "007023", "Адрес возврата не разрешён", f"Адрес {redirect_uri} не зарегистрирован для {client_id}."
            )
        state = params.get("state")
        try:
            auth_request = await self.check(params)
        except EsiaError as error:
            request[NOTE] = f"ESIA-{error.code}"
            return error_redirect(redirect_uri, error, state)
        return await self.sign_in(request, auth_request)

    async def check(self, params: Params) -> AuthorizeRequest:
        settings = self.emu.settings
        client = self.emu.clients[params.get("client_id")]
        params.require(MANDATORY)
        params.single(["scope", "scope_org", "code_challenge", "code_challenge_method"])
        if params.get("response_type") != "code":
            raise EsiaError("007003", "[response_type] must be code.")
        if params.get("access_type") not in ("online", "offline"):
            raise EsiaError("007003", "[access_type] must be online or offline.")
        check_state(params.get("state"), settings.require_uuid_state)
        scopes = check_scopes(params.get("scope"), settings.supported_scopes)
        check_timestamp(params.get("timestamp"), self.emu.clock.time(), settings.timestamp_tolerance)
        check_certificate_hash(client, params.get("client_certificate_hash"))
        await check_secret(client, params.get("client_secret"), signed_string(params))
        challenge = self.check_pkce(params)
        return AuthorizeRequest(
            client_id=client.client_id,
            redirect_uri=params.get("redirect_uri"),
            scopes=scopes,
            scope_org=params.get("scope_org"),
            state=params.get("state"),
            access_type=params.get("access_type"),
            code_challenge=challenge,
            created=self.emu.clock.time(),
        )

    @staticmethod
    def check_pkce(params: Params) -> str | None:
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if not challenge:
            if method:
                raise EsiaError("007014", "[code_challenge].")
            return None
        if method != "S256":
            raise EsiaError("007003", "[code_challenge_method] only S256 is supported.")
        if not PKCE_CHALLENGE.match(challenge):
            raise EsiaError("007003", "[code_challenge] must be 43 base64url characters (S256).")
        return challenge

    # --- sign-in ---------------------------------------------------------------------------------

    async def sign_in(self, request: web.Request, auth: AuthorizeRequest) -> web.StreamResponse:
        """Decide who signs in: a queued outcome, the persona parameter (when allowed), the
        auto-login persona, an SSO session, or else the person on the page."""
        emu = self.emu
        choice: str | None = None
        if emu.next_outcomes:
            choice = emu.next_outcomes.popleft()
        elif emu.allow_persona_param and request.query.get(PERSONA_PARAM):
            choice = request.query[PERSONA_PARAM]
        elif emu.auto_login:
            choice = emu.auto_login
        if choice is not None:
            if choice == CANCEL:
                return self.finish(request, auth, None)
            if choice not in emu.personas:
                return html_error(400, "007003", "Неизвестная учётная запись", f"Нет учётной записи «{choice}».")
            return self.finish(request, auth, emu.personas[choice])
        session = emu.grants.active_session(request.cookies.get(SSO_COOKIE))
        if session is not None and emu.settings.sso:
            return self.finish(request, auth, session.persona, reuse_sid=session.sid)
        emu.grants.pending[auth.rid] = auth
        page = signin_page(auth, list(emu.personas.values()), session)
        return web.Response(text=page, content_type="text/html")

    async def choose(self, request: web.Request) -> web.StreamResponse:
        """The sign-in page's form: `rid` plus `persona=<key>` or `action=cancel`."""
        form = await request.post()
        rid = str(form.get("rid", ""))
        auth = self.emu.grants.pending.pop(rid, None)
        if auth is None or self.emu.clock.time() - auth.created > self.emu.settings.signin_page_ttl:
            return html_error(400, "007003", "Сеанс входа устарел", "Вернитесь в систему и начните вход заново.")
        if str(form.get("action", "")) == CANCEL:
            return self.finish(request, auth, None)
        key = str(form.get("persona", ""))
        if key not in self.emu.personas:
            self.emu.grants.pending[rid] = auth
            return html_error(400, "007003", "Неизвестная учётная запись", f"Нет учётной записи «{key}».")
        return self.finish(request, auth, self.emu.personas[key])

    def finish(
        self, request: web.Request, auth: AuthorizeRequest, persona: Persona | None, reuse_sid: str | None = None
    ) -> web.StreamResponse:
        emu = self.emu
        error: EsiaError | None = None
        if persona is None:
            error = EsiaError("007004")
        elif persona.sign_in == "blocked":
            error = EsiaError("007055", "The account is blocked.")
        elif emu.clients[auth.client_id].confirmed_only and not persona.trusted:
            error = EsiaError("007055", "The system accepts confirmed accounts only.")
        elif persona.sign_in == "decline":
            error = EsiaError("007004")
        if error is not None or persona is None:
            request[NOTE] = f"ESIA-{error.code if error else '007004'}"
            return error_redirect(auth.redirect_uri, error or EsiaError("007004"), auth.state)
        now = emu.clock.time()
        session = emu.grants.active_session(reuse_sid)
        if session is None or session.persona.key != persona.key:
            session = emu.grants.open_session(persona, auth.client_id, now)
        session.client_ids.add(auth.client_id)
        code = emu.grants.issue_code(auth, session, now)
        request[NOTE] = f"code for {persona.key}"
        response = redirect_with(auth.redirect_uri, {"code": code.code, "state": auth.state})
        response.set_cookie(SSO_COOKIE, session.sid, path="/", httponly=True)
        return response
