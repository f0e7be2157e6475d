"""The ESIA emulator: registered systems, personas, keys and the public endpoints, with the
Python API tests drive it through (the control routes in `control.py` mirror it over HTTP)."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from aiohttp import web

from emulators.common.server import EmulatorServer, JsonObject

from .authorize import AUTHORIZE_PATH, CANCEL, Authorize
from .clients import RegisteredClient, default_client
from .control import EsiaControl
from .errors import EsiaError
from .grants import GrantStore, Logout, Session
from .logout import LOGOUT_PATH, LogoutEndpoint
from .person_data import PERSON_PATH, PersonData
from .personas import Persona, default_personas
from .public_keys import PublicKeys
from .settings import EsiaSettings
from .signin_page import SIGNIN_PATH
from .signing_keys import KeyRing, SigningKey
from .token_endpoint import TOKEN_PATH, TokenEndpoint


class EsiaEmulator(EmulatorServer):
    """ESIA on a local port.

    ``EsiaEmulator(clients=None, personas=None, settings=None, redirect_uris=None)``: by default
    one system, ``MEDCAB01`` with the test certificate (any http port on 127.0.0.1/localhost is
    an allowed redirect, plus ``redirect_uris``), and the default personas.
    """

    service: ClassVar[str] = "esia"
    endpoints: ClassVar[tuple[str, ...]] = ("authorize", "signin", "token", "person", "logout", "public")

    def __init__(
        self,
        clients: Iterable[RegisteredClient] | None = None,
        personas: Iterable[Persona] | None = None,
        settings: EsiaSettings | None = None,
        redirect_uris: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self._initial_clients = list(clients) if clients is not None else [default_client(list(redirect_uris or []))]
        self._initial_personas = list(personas) if personas is not None else default_personas()
        self._initial_settings = settings or EsiaSettings()
        self.next_outcomes: deque[str] = deque()
        self._restore()
        self._authorize = Authorize(self)
        self._token = TokenEndpoint(self)
        self._person = PersonData(self)
        self._logout = LogoutEndpoint(self)
        self._public = PublicKeys(self)
        self._control = EsiaControl(self)

    def _restore(self) -> None:
        # Copies: a test may change a client or persona in place, and reset() must undo that.
        self.clients: dict[str, RegisteredClient] = {c.client_id: copy.deepcopy(c) for c in self._initial_clients}
        self.personas: dict[str, Persona] = {p.key: copy.deepcopy(p) for p in self._initial_personas}
        self.settings = EsiaSettings(**vars(self._initial_settings))
        self.keys = KeyRing()
        self.grants = GrantStore()
        # Test hooks for sign-in (see `sign_in_as`, `queue_outcome`).
        self.auto_login: str | None = None
        self.allow_persona_param = False
        self.next_outcomes.clear()

    def reset(self) -> None:
        """Clients, personas, settings and keys as constructed; no codes, sessions, faults or calls."""
        super().reset()
        self._restore()

    # --- routes ---------------------------------------------------------------------------------

    def public_routes(self) -> list[web.RouteDef]:
        return [
            web.get(AUTHORIZE_PATH, self._authorize.handle, name="authorize"),
            web.post(SIGNIN_PATH, self._authorize.choose, name="signin"),
            web.post(TOKEN_PATH, self._token.handle, name="token"),
            web.get(PERSON_PATH, self._person.person, name="person"),
            web.get(PERSON_PATH + "/{kind:ctts|docs|addrs}", self._person.collection, name="person.collection"),
            web.get(PERSON_PATH + "/{kind:ctts|docs|addrs}/{item}", self._person.element, name="person.element"),
            web.get(LOGOUT_PATH, self._logout.handle, name="logout"),
            web.get("/public/esia.pem", self._public.pem, name="public.pem"),
            web.get("/public/esia-gost.pem", self._public.gost_pem, name="public.gost"),
            web.get("/public/esia.zip", self._public.archive, name="public.zip"),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return super().control_routes() + self._control.routes()

    def unavailable_response(self) -> web.Response:
        error = EsiaError("007008")
        return web.json_response(error.to_json(), status=503)

    async def state_fault(self, kind: str, data: JsonObject) -> web.Response | None:
        if kind in ("rotate_key", "skew_clock"):
            return await self._control.special_fault(kind, data)
        return None

    def health(self) -> JsonObject:
        return {**super().health(), "clients": sorted(self.clients), "personas": len(self.personas)}

    # --- Python API -----------------------------------------------------------------------------

    def add_client(self, client: RegisteredClient) -> RegisteredClient:
        self.clients[client.client_id] = client
        return client

    def add_persona(self, persona: Persona) -> Persona:
        clash = self.persona_by_oid(persona.oid)
        if clash is not None and clash.key != persona.key:
            raise ValueError(f"oid {persona.oid} already belongs to persona {clash.key!r}")
        self.personas[persona.key] = persona
        return persona

    def persona(self, key: str) -> Persona:
        return self.personas[key]

    def persona_by_oid(self, oid: int) -> Persona | None:
        return next((p for p in self.personas.values() if p.oid == oid), None)

    def sign_in_as(self, key: str | None) -> None:
        """Every authorize that passes its checks signs in as this persona without showing the
        page (None: show the page again)."""
        if key is not None and key not in self.personas:
            raise KeyError(key)
        self.auto_login = key

    def queue_outcome(self, *outcomes: str) -> None:
        """The next authorize requests end like this, in order: a persona key, or "cancel"
        (the person presses «Отмена»). Takes precedence over `sign_in_as`."""
        for outcome in outcomes:
            if outcome != CANCEL and outcome not in self.personas:
                raise KeyError(outcome)
            self.next_outcomes.append(outcome)

    def rotate_signing_key(self, alg: str | None = None) -> list[SigningKey]:
        """Fault: sign tokens with a fresh key from now on (the old one is retired, not used)."""
        return self.keys.rotate(alg)

    def skew_token_clock(self, seconds: float) -> None:
        """Fault: issue tokens as if ESIA's clock were `seconds` off (iat, nbf, exp shift)."""
        self.settings.token_time_offset = float(seconds)

    @property
    def sessions(self) -> list[Session]:
        return list(self.grants.sessions.values())

    @property
    def logouts(self) -> list[Logout]:
        return list(self.grants.logouts)
