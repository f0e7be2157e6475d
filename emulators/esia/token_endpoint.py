"""`POST /aas/oauth2/v3/te`: codes and refresh tokens exchanged for ESIA tokens.

Form body only (a JSON body reads as "nothing sent": ESIA-007014). The signature is checked again,
over the string that ends in the `code`; the `state` here is a new UUID that ESIA echoes back.
A code is single-use and bound to its client, redirect_uri, scope and PKCE challenge.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulators.common.server import NOTE

from . import tokens
from .errors import EsiaError
from .grants import AuthorizationCode, RefreshGrant
from .params import (
    PKCE_VERIFIER,
    Params,
    check_certificate_hash,
    check_scopes,
    check_secret,
    check_state,
    check_timestamp,
)
from .tokens import Grant

if TYPE_CHECKING:
    from .server import EsiaEmulator

TOKEN_PATH = "/aas/oauth2/v3/te"  # noqa: S105 - a path, not a secret
FORM = "application/x-www-form-urlencoded"
REQUIRED = {
    "authorization_code": [
        "client_id", "code", "grant_type", "client_certificate_hash", "client_secret", "state",
        "redirect_uri", "scope", "timestamp", "token_type",
    ],
    "refresh_token": [
        "client_id", "refresh_token", "grant_type", "client_certificate_hash", "client_secret", "state",
        "scope", "timestamp", "token_type",
    ],
}  # fmt: skip


def code_signed_string(p: Params) -> str:
    return "".join(p.get(n) for n in ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri", "code"))


def refresh_signed_strings(p: Params, variant: str) -> list[str]:
    """The refresh grant's signed string: public clients disagree, so it is a setting."""
    as_authorize = "".join(p.get(n) for n in ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri"))
    with_token = "".join(p.get(n) for n in ("client_id", "scope", "timestamp", "state", "refresh_token"))
    return {"authorize": [as_authorize], "refresh_token": [with_token]}.get(variant, [with_token, as_authorize])


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class TokenEndpoint:
    def __init__(self, emulator: EsiaEmulator) -> None:
        self.emu = emulator

    async def handle(self, request: web.Request) -> web.Response:
        params = Params(await request.post()) if request.content_type == FORM else Params({})
        try:
            body = await self.exchange(params)
        except EsiaError as error:
            request[NOTE] = f"ESIA-{error.code}"
            return web.json_response(
                error.to_json(params.get("state")), status=400, headers={"Cache-Control": "no-store"}
            )
        request[NOTE] = "tokens issued"
        return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def exchange(self, params: Params) -> dict[str, Any]:
        emu, settings = self.emu, self.emu.settings
        grant_type = params.get("grant_type")
        if grant_type and grant_type not in REQUIRED:
            raise EsiaError("007012", f"[{grant_type}].")
        required = list(REQUIRED[grant_type or "authorization_code"])
        if grant_type == "refresh_token" and settings.refresh_signed_string == "authorize":
            required.append("redirect_uri")
        params.require(required)
        params.single(["scope_org", "redirect_uri", "code_verifier"])
        client = emu.clients.get(params.get("client_id"))
        if client is None:
            raise EsiaError("007002", "[client_id].")
        if params.get("token_type") != "Bearer":
            raise EsiaError("007003", "[token_type] must be Bearer.")
        check_state(params.get("state"), settings.require_uuid_state)
        scopes = check_scopes(params.get("scope"), settings.supported_scopes)
        check_timestamp(params.get("timestamp"), emu.clock.time(), settings.timestamp_tolerance)
        check_certificate_hash(client, params.get("client_certificate_hash"))
        if grant_type == "refresh_token":
            await self.check_any_secret(params, refresh_signed_strings(params, settings.refresh_signed_string))
            return await self.refresh(params, scopes)
        await check_secret(client, params.get("client_secret"), code_signed_string(params))
        return await self.redeem(params, scopes)

    async def check_any_secret(self, params: Params, candidates: list[str]) -> None:
        client = self.emu.clients[params.get("client_id")]
        for signed in candidates[:-1]:
            try:
                await check_secret(client, params.get("client_secret"), signed)
            except EsiaError:
                continue
            return
        await check_secret(client, params.get("client_secret"), candidates[-1])

    async def redeem(self, params: Params, scopes: list[str]) -> dict[str, Any]:
        emu = self.emu
        code = emu.grants.take_code(params.get("code"))
        if code is None:
            raise EsiaError("007011", "Unknown or already used code.")
        request = code.request
        if emu.clock.time() - code.issued_at > emu.settings.code_ttl:
            raise EsiaError("007011", "The code has expired.")
        if request.client_id != params.get("client_id"):
            raise EsiaError("007011", "The code was issued to another client.")
        if request.redirect_uri != params.get("redirect_uri"):
            raise EsiaError("007011", "The code was issued for another redirect_uri.")
        if set(request.scopes) != set(scopes):
            raise EsiaError("007011", "The code was issued for another scope.")
        self.check_pkce(code, params.get("code_verifier"))
        refresh = emu.grants.issue_refresh(code, emu.clock.time()) if request.access_type == "offline" else None
        grant = Grant(code.persona, request.client_id, request.scopes, code.sid, code.auth_time)
        return await self.issue(grant, params.get("state"), refresh)

    @staticmethod
    def check_pkce(code: AuthorizationCode, verifier: str) -> None:
        challenge = code.request.code_challenge
        if challenge is None:
            if verifier:
                raise EsiaError("007039")
            return
        if not verifier:
            raise EsiaError("007014", "[code_verifier].")
        if not PKCE_VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), challenge):
            raise EsiaError("007040")

    async def refresh(self, params: Params, scopes: list[str]) -> dict[str, Any]:
        emu = self.emu
        old = emu.grants.refresh.pop(params.get("refresh_token"), None)
        if old is None:
            raise EsiaError("007011", "Unknown or already used refresh token.")
        if emu.clock.time() - old.issued_at > emu.settings.refresh_ttl:
            raise EsiaError("007011", "The refresh token has expired.")
        if old.client_id != params.get("client_id"):
            raise EsiaError("007011", "The refresh token was issued to another client.")
        if not set(scopes) <= set(old.scopes):
            raise EsiaError("007011", "The refresh token does not cover this scope.")
        # Refresh tokens rotate: the old one is spent, a new one comes back.
        new = emu.grants.issue_refresh(old, emu.clock.time())
        new.scopes = scopes
        grant = Grant(old.persona, old.client_id, scopes, old.sid, old.auth_time)
        return await self.issue(grant, params.get("state"), new)

    async def issue(self, grant: Grant, state: str, refresh: RefreshGrant | None) -> dict[str, Any]:
        emu = self.emu
        alg = emu.clients[grant.client_id].token_alg
        now = int(emu.clock.time() + emu.settings.token_time_offset)
        issuer = emu.settings.issuer
        # GOST signing is slow pure-Python arithmetic: keep it off the event loop.
        access = tokens.header("access", alg), tokens.access_claims(grant, issuer, now)
        body: dict[str, Any] = {"access_token": await asyncio.to_thread(tokens.encode, *access, emu.keys)}
        if "openid" in grant.scopes:
            id_token = tokens.header("id", alg), tokens.id_claims(grant, issuer, now)
            body["id_token"] = await asyncio.to_thread(tokens.encode, *id_token, emu.keys)
        if refresh is not None:
            body["refresh_token"] = refresh.token
        body.update({"state": state, "token_type": "Bearer", "expires_in": tokens.ACCESS_LIFETIME})
        return body
