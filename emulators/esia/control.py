"""ESIA's part of the control API under `/_emulator/` (JSON in, `{"ok": true, "result": …}` out).

| route | what |
| --- | --- |
| `GET /personas`, `POST /personas`, `DELETE /personas/{key}` | list, add or replace, remove personas |
| `GET /clients`, `POST /clients`, `DELETE /clients/{client_id}` | registered systems |
| `GET /keys`, `POST /keys/rotate` `{"alg"?}` | token-signing keys (current, retired, JWKS-style) |
| `GET /settings`, `POST /settings` `{…}` | `EsiaSettings` fields |
| `GET /signin`, `POST /signin` | sign-in hooks `{"auto_login", "allow_persona_param", "next": […], "clear_next"}` |
| `GET /sessions`, `GET /logouts` | ESIA sessions and recorded logouts |
| `POST /faults` | also `{"kind": "rotate_key", "alg"?}` and `{"kind": "skew_clock", "seconds"}` |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from emulators.common.server import PREFIX, ControlError, guarded, ok, read_json

from .clients import RegisteredClient
from .personas import Persona

if TYPE_CHECKING:
    from .server import EsiaEmulator


class EsiaControl:
    def __init__(self, emulator: EsiaEmulator) -> None:
        self.emu = emulator

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/personas", guarded(self.list_personas)),
            web.post(f"{PREFIX}/personas", guarded(self.add_persona)),
            web.delete(f"{PREFIX}/personas/{{key}}", guarded(self.remove_persona)),
            web.get(f"{PREFIX}/clients", guarded(self.list_clients)),
            web.post(f"{PREFIX}/clients", guarded(self.add_client)),
            web.delete(f"{PREFIX}/clients/{{client_id}}", guarded(self.remove_client)),
            web.get(f"{PREFIX}/keys", guarded(self.keys)),
            web.post(f"{PREFIX}/keys/rotate", guarded(self.rotate)),
            web.get(f"{PREFIX}/settings", guarded(self.get_settings)),
            web.post(f"{PREFIX}/settings", guarded(self.set_settings)),
            web.get(f"{PREFIX}/signin", guarded(self.get_signin)),
            web.post(f"{PREFIX}/signin", guarded(self.set_signin)),
            web.get(f"{PREFIX}/sessions", guarded(self.sessions)),
            web.get(f"{PREFIX}/logouts", guarded(self.logouts)),
        ]

    async def list_personas(self, request: web.Request) -> web.Response:
        return ok([p.to_json() for p in self.emu.personas.values()])

    async def add_persona(self, request: web.Request) -> web.Response:
        persona = self.emu.add_persona(Persona.from_json(await read_json(request)))
        return ok(persona.to_json())

    async def remove_persona(self, request: web.Request) -> web.Response:
        del self.emu.personas[request.match_info["key"]]
        return ok()

    async def list_clients(self, request: web.Request) -> web.Response:
        return ok([c.to_json() for c in self.emu.clients.values()])

    async def add_client(self, request: web.Request) -> web.Response:
        client = self.emu.add_client(RegisteredClient.from_json(await read_json(request)))
        return ok(client.to_json())

    async def remove_client(self, request: web.Request) -> web.Response:
        del self.emu.clients[request.match_info["client_id"]]
        return ok()

    async def keys(self, request: web.Request) -> web.Response:
        return ok(self.emu.keys.to_json())

    async def rotate(self, request: web.Request) -> web.Response:
        data = await read_json(request)
        fresh = self.emu.rotate_signing_key(data.get("alg"))
        return ok([k.to_json() for k in fresh])

    async def get_settings(self, request: web.Request) -> web.Response:
        return ok(self.emu.settings.to_json())

    async def set_settings(self, request: web.Request) -> web.Response:
        self.emu.settings.update(await read_json(request))
        return ok(self.emu.settings.to_json())

    def _signin_state(self) -> dict[str, object]:
        return {
            "auto_login": self.emu.auto_login,
            "allow_persona_param": self.emu.allow_persona_param,
            "next": list(self.emu.next_outcomes),
        }

    async def get_signin(self, request: web.Request) -> web.Response:
        return ok(self._signin_state())

    async def set_signin(self, request: web.Request) -> web.Response:
        data = await read_json(request)
        if "auto_login" in data:
            self.emu.sign_in_as(data["auto_login"])
        if "allow_persona_param" in data:
            self.emu.allow_persona_param = bool(data["allow_persona_param"])
        if data.get("clear_next"):
            self.emu.next_outcomes.clear()
        next_outcomes = data.get("next", [])
        if isinstance(next_outcomes, str):
            next_outcomes = [next_outcomes]
        self.emu.queue_outcome(*[str(o) for o in next_outcomes])
        return ok(self._signin_state())

    async def sessions(self, request: web.Request) -> web.Response:
        return ok([s.to_json() for s in self.emu.sessions])

    async def logouts(self, request: web.Request) -> web.Response:
        return ok([entry.to_json() for entry in self.emu.logouts])

    async def special_fault(self, kind: str, data: dict[str, object]) -> web.Response:
        """Faults that are state changes rather than failed requests."""
        if kind == "rotate_key":
            alg = data.get("alg")
            fresh = self.emu.rotate_signing_key(str(alg) if alg else None)
            return ok({"kind": kind, "keys": [k.to_json() for k in fresh]})
        if kind == "skew_clock":
            seconds = data.get("seconds")
            if not isinstance(seconds, int | float):
                raise ControlError(400, "skew_clock needs a number of seconds")
            self.emu.skew_token_clock(float(seconds))
            return ok({"kind": kind, "seconds": float(seconds)})
        raise ControlError(400, f"unknown fault kind {kind!r}")
