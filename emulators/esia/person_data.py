"""`GET /rs/prns/{oid}` and its collections (`/ctts`, `/docs`, `/addrs`).

The Bearer token must be one this emulator signed and unexpired (401), issued for the oid in the
path (403), and each field comes back only if a scope in the token covers it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .personas import Persona
from .tokens import TokenInvalid, decode

if TYPE_CHECKING:
    from .server import EsiaEmulator

PERSON_PATH = "/rs/prns/{oid}"
# Fields of the person object and the scope that releases each.
FIELD_SCOPES: dict[str, Callable[[Persona], dict[str, Any]]] = {
    "fullname": lambda p: {"firstName": p.first_name, "lastName": p.last_name, "middleName": p.middle_name},
    "birthdate": lambda p: {"birthDate": p.birth_date},
    "gender": lambda p: {"gender": p.gender},
    "snils": lambda p: {"snils": p.snils},
    "inn": lambda p: {"inn": p.inn},
    "birthplace": lambda p: {"birthPlace": p.birth_place},
    "id_doc": lambda p: {"citizenship": p.citizenship, "rIdDoc": p.documents[0].id if p.documents else None},
}
# Which contact types each scope releases.
CONTACT_SCOPES = {"email": {"EML"}, "mobile": {"MBT"}, "contacts": {"EML", "MBT", "PHN", "CEM"}}


def etag(value: Any) -> str:
    return (
        hashlib.sha1(json.dumps(value, sort_keys=True, ensure_ascii=False).encode(), usedforsecurity=False)
        .hexdigest()
        .upper()
    )


def refuse(status: int, error: str, description: str) -> web.Response:
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'} if status == 401 else None
    return web.json_response({"error": error, "error_description": description}, status=status, headers=headers)


def token_scopes(scope: str, oid: int) -> set[str]:
    """Scope names in an access token that apply to `oid` ("fullname?oid=1000…" → fullname)."""
    names = set()
    for item in scope.split():
        name, _, query = item.partition("?")
        if not query or query == f"oid={oid}":
            names.add(name)
    return names


class PersonData:
    def __init__(self, emulator: EsiaEmulator) -> None:
        self.emu = emulator

    async def authorize(self, request: web.Request) -> tuple[Persona, set[str]] | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return refuse(401, "invalid_token", "Bearer access token required")
        try:
            # A GOST-signed token takes ~80 ms to verify: off the event loop.
            _, claims = await asyncio.to_thread(decode, token.strip(), self.emu.keys)
        except TokenInvalid as error:
            return refuse(401, "invalid_token", f"invalid access token: {error}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.emu.clock.time():
            return refuse(401, "invalid_token", "access token expired")
        try:
            oid = int(request.match_info["oid"])
        except ValueError:
            return refuse(404, "not_found", "no such person")
        if claims.get("urn:esia:sbj_id") != oid:
            return refuse(403, "access_denied", "the token was issued for another person")
        persona = self.emu.persona_by_oid(oid)
        if persona is None:
            return refuse(404, "not_found", "no such person")
        return persona, token_scopes(str(claims.get("scope", "")), oid)

    async def person(self, request: web.Request) -> web.Response:
        checked = await self.authorize(request)
        if isinstance(checked, web.Response):
            return checked
        persona, scopes = checked
        body: dict[str, Any] = {"stateFacts": ["EntityRoot"]}
        for scope, fields in FIELD_SCOPES.items():
            if scope in scopes:
                body.update({k: v for k, v in fields(persona).items() if v is not None})
        body.update(
            {
                "trusted": persona.trusted,
                "status": persona.status,
                "verifying": persona.verifying,
                "updatedOn": persona.updated_on,
            }
        )
        body["eTag"] = etag(body)
        return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    def elements(self, persona: Persona, kind: str, scopes: set[str]) -> list[dict[str, Any]] | None:
        """The collection's elements this token may see; None when no scope covers it."""
        if kind == "ctts":
            types: set[str] = set().union(*(CONTACT_SCOPES[s] for s in scopes if s in CONTACT_SCOPES))
            if not types:
                return None
            return [c.to_json() for c in persona.contacts if c.type in types]
        if kind == "docs":
            return [d.to_json() for d in persona.documents] if "id_doc" in scopes else None
        return [a.to_json() for a in persona.addresses] if "addresses" in scopes else None

    async def collection(self, request: web.Request) -> web.Response:
        checked = await self.authorize(request)
        if isinstance(checked, web.Response):
            return checked
        persona, scopes = checked
        kind = request.match_info["kind"]
        items = self.elements(persona, kind, scopes)
        if items is None:
            return refuse(403, "insufficient_scope", f"no scope in the token covers /{kind}")
        for item in items:
            item["eTag"] = etag(item)
        embed = request.query.get("embed", "").strip("()").split(",")
        base = f"{request.url.origin()}/rs/prns/{persona.oid}/{kind}"
        elements: list[Any] = items if "elements" in embed else [f"{base}/{item['id']}" for item in items]
        body = {"stateFacts": ["hasSize"], "size": len(items), "elements": elements}
        body["eTag"] = etag(body)
        return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def element(self, request: web.Request) -> web.Response:
        checked = await self.authorize(request)
        if isinstance(checked, web.Response):
            return checked
        persona, scopes = checked
        kind = request.match_info["kind"]
        items = self.elements(persona, kind, scopes)
        if items is None:
            return refuse(403, "insufficient_scope", f"no scope in the token covers /{kind}")
        for item in items:
            if str(item["id"]) == request.match_info["item"]:
                item["eTag"] = etag(item)
                return web.json_response(item, dumps=lambda v: json.dumps(v, ensure_ascii=False))
        return refuse(404, "not_found", "no such element")
