"""`GET /frmr/v1/persons?snils=…` and `GET /frmr/v1/persons/{id}`: the register lookup.

Every request needs the API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`; 401
otherwise). A SNILS with or without separators is accepted; a malformed one or one with a wrong
check number is a 400, so a client bug is not mistaken for "not a medical worker" (404).
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulators.common import snils
from emulators.common.server import NOTE

if TYPE_CHECKING:
    from .server import EgiszEmulator

PERSONS_PATH = "/frmr/v1/persons"


def reply(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=lambda v: json.dumps(v, ensure_ascii=False))


class Lookup:
    def __init__(self, emulator: EgiszEmulator) -> None:
        self.emu = emulator

    def refuse_unauthenticated(self, request: web.Request) -> web.Response | None:
        if not self.emu.require_auth:
            return None
        key = request.headers.get("X-API-Key", "")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            key = key or token.strip()
        if key and any(hmac.compare_digest(key, allowed) for allowed in self.emu.api_keys):
            return None
        request[NOTE] = "unauthorized"
        return reply(
            {"error": "unauthorized", "message": "a valid API key is required (X-API-Key or Authorization: Bearer)"},
            401,
            {"WWW-Authenticate": 'Bearer realm="frmr"'},
        )

    async def by_snils(self, request: web.Request) -> web.Response:
        refused = self.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        value = request.query.get("snils")
        if not value:
            request[NOTE] = "invalid_snils"
            return reply({"error": "invalid_snils", "message": "the snils query parameter is required"}, 400)
        try:
            digits = snils.normalize(value)
        except snils.SnilsError as error:
            request[NOTE] = "invalid_snils"
            return reply({"error": "invalid_snils", "message": str(error)}, 400)
        person = self.emu.persons.get(digits)
        if person is None:
            request[NOTE] = "not found"
            return reply({"found": False}, 404)
        request[NOTE] = "found"
        return reply({"found": True, "person": person.to_json()})

    async def by_id(self, request: web.Request) -> web.Response:
        refused = self.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        wanted = request.match_info["id"]
        person = next((p for p in self.emu.persons.values() if p.id == wanted), None)
        if person is None:
            return reply({"found": False}, 404)
        return reply({"found": True, "person": person.to_json()})
