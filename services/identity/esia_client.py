"""The ESIA client: the current API (``/aas/oauth2/v2/ac``, ``/v3/te``, ``/rs/prns``, logout).

Every request is signed through ``services.signing`` (the signer is pluggable: gostcrypto,
OpenSSL's gost engine, or a certified one later); every answer is treated as untrusted, including
HTML error pages where JSON was promised.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import aiohttp

from services.identity.esia_tokens import ClaimRules, TokenInvalid, TokenKeys, verify_access_token, verify_id_token
from services.signing.esia_secret import (
    SecretFields,
    authorize_string,
    client_secret_async,
    esia_timestamp,
    token_string,
)
from services.signing.signer import Signer

MOSCOW = timezone(timedelta(hours=3))


class EsiaError(Exception):
    """ESIA answered with an error: ``code`` is the ESIA-0070xx number when it gave one."""

    def __init__(self, error: str, description: str = "", status: int | None = None) -> None:
        super().__init__(f"{error}: {description[:200]}")
        self.error = error
        self.description = description
        self.status = status
        self.code = description.split(":", 1)[0].strip() if description.startswith("ESIA-") else None


class EsiaUnavailable(EsiaError):
    """Down, slow, overloaded (ESIA-007008) or answering something that is not its API."""


@dataclass(frozen=True)
class EsiaConfig:
    base_url: str
    client_id: str
    redirect_uri: str
    issuer: str
    keys: TokenKeys
    scope: str = "openid fullname snils"
    timeout: float = 10.0
    leeway: int = 60


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


@dataclass(frozen=True)
class EsiaIdentity:
    oid: str
    access_token: str
    expires_at: datetime
    sid: str | None
    confirmed: bool  # ``is_tru`` in the id_token
    level: str | None


@dataclass(frozen=True)
class EsiaPerson:
    oid: str
    last_name: str
    first_name: str
    middle_name: str | None
    snils: str | None
    trusted: bool
    status: str
    verifying: bool
    raw_fields: frozenset[str] = field(default_factory=frozenset)


def _now_moscow() -> datetime:
    return datetime.now(MOSCOW)


class EsiaClient:
    def __init__(
        self,
        config: EsiaConfig,
        signer: Signer,
        http: aiohttp.ClientSession,
        clock: Callable[[], datetime] = _now_moscow,
    ) -> None:
        self._config = config
        self._signer = signer
        self._http = http
        self._clock = clock

    @property
    def config(self) -> EsiaConfig:
        return self._config

    def _secret_fields(self, state: str) -> SecretFields:
        """The signed fields of a request; built in one place so /ac and /te cannot drift apart."""
        cfg = self._config
        return SecretFields(
            client_id=cfg.client_id,
            scope=cfg.scope,
            timestamp=esia_timestamp(self._clock()),
            state=state,
            redirect_uri=cfg.redirect_uri,
        )

    async def authorization_url(self, state: str, pkce: Pkce) -> str:
        cfg = self._config
        fields = self._secret_fields(state)
        params = {
            "client_id": cfg.client_id,
            "client_certificate_hash": self._signer.certificate_hash,
            "client_secret": await client_secret_async(self._signer, authorize_string(fields)),
            "redirect_uri": cfg.redirect_uri,
            "scope": cfg.scope,
            "response_type": "code",
            "state": state,
            "timestamp": fields.timestamp,
            "access_type": "online",
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        return f"{cfg.base_url}/aas/oauth2/v2/ac?{urlencode(params)}"

    def logout_url(self, redirect_url: str) -> str:
        query = urlencode({"client_id": self._config.client_id, "redirect_url": redirect_url})
        return f"{self._config.base_url}/idp/ext/Logout?{query}"

    async def exchange_code(self, code: str, code_verifier: str) -> EsiaIdentity:
        cfg = self._config
        state = str(uuid.uuid4())  # a new state for /te, as ESIA wants; its echo is checked below
        fields = self._secret_fields(state)
        form = {
            "client_id": cfg.client_id,
            "code": code,
            "grant_type": "authorization_code",
            "client_certificate_hash": self._signer.certificate_hash,
            "client_secret": await client_secret_async(self._signer, token_string(fields, code)),
            "state": state,
            "redirect_uri": cfg.redirect_uri,
            "scope": cfg.scope,
            "timestamp": fields.timestamp,
            "token_type": "Bearer",
            "code_verifier": code_verifier,
        }
        body = await self._request("POST", "/aas/oauth2/v3/te", data=form)
        if body.get("state") != state:
            raise EsiaError("invalid_response", "the token endpoint did not echo our state")
        access_token, id_token = body.get("access_token"), body.get("id_token")
        if not isinstance(access_token, str) or not isinstance(id_token, str):
            raise EsiaError("invalid_response", "tokens missing")
        rules = ClaimRules(issuer=cfg.issuer, client_id=cfg.client_id, leeway=cfg.leeway)
        try:
            # Off the event loop: a GOST verification in pure Python takes ~80 ms.
            access = await asyncio.to_thread(verify_access_token, access_token, cfg.keys, rules)
            identity = await asyncio.to_thread(verify_id_token, id_token, cfg.keys, rules)
        except TokenInvalid as exc:
            raise EsiaError("invalid_token", str(exc)) from exc
        oid = str(access["urn:esia:sbj_id"])
        if str(identity["sub"]) != oid:
            raise EsiaError("invalid_token", "id_token subject differs from the access token's")
        raw_subject = identity.get("urn:esia:sbj")
        # Published samples name the members both ways ("is_tru" and "urn:esia:sbj:is_tru").
        subject: dict[str, Any] = {}
        if isinstance(raw_subject, dict):
            subject = {str(k).removeprefix("urn:esia:sbj:"): v for k, v in raw_subject.items()}
        expires_in = body.get("expires_in", 3600)
        try:
            # ESIA sends a number or a string; an absurd one (1e400 reads as inf) must not crash us.
            expires_at = datetime.now(UTC) + timedelta(seconds=int(expires_in))
        except (TypeError, ValueError, OverflowError):
            expires_at = datetime.now(UTC) + timedelta(seconds=3600)
        return EsiaIdentity(
            oid=oid,
            access_token=access_token,
            expires_at=expires_at,
            sid=str(access.get("urn:esia:sid")) if access.get("urn:esia:sid") else None,
            confirmed="is_tru" in subject,
            level=str(subject.get("lvl")) if subject.get("lvl") else None,
        )

    async def person(self, oid: str, access_token: str) -> EsiaPerson:
        body = await self._request("GET", f"/rs/prns/{oid}", headers={"Authorization": f"Bearer {access_token}"})
        snils = body.get("snils")
        return EsiaPerson(
            oid=oid,
            last_name=str(body.get("lastName") or ""),
            first_name=str(body.get("firstName") or ""),
            middle_name=str(body["middleName"]) if body.get("middleName") else None,
            snils=str(snils) if snils else None,
            trusted=body.get("trusted") is True,
            status=str(body.get("status") or ""),
            verifying=body.get("verifying") is True,
            raw_fields=frozenset(body),
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self._config.base_url + path
        timeout = aiohttp.ClientTimeout(total=self._config.timeout)
        try:
            async with self._http.request(method, url, timeout=timeout, allow_redirects=False, **kwargs) as response:
                status = response.status
                # Error pages are not always UTF-8 (windows-1251 ones too): never fail on decoding.
                text = await response.text(errors="replace")
                content_type = response.content_type
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise EsiaUnavailable("unavailable", type(exc).__name__) from exc
        body: Any = None
        if content_type == "application/json" or text.lstrip().startswith("{"):
            try:
                body = json.loads(text)
            except ValueError:
                body = None
        if not isinstance(body, dict):
            # An HTML error page (ESIA does that on 500s) or garbage: never parsed further.
            raise EsiaUnavailable("unavailable", f"HTTP {status}, not JSON", status)
        if status >= 400 or "error" in body:
            error = str(body.get("error") or f"http_{status}")
            description = str(body.get("error_description") or "")
            if status >= 500 or error in ("temporarily_unavailable", "server_error"):
                raise EsiaUnavailable(error, description, status)
            raise EsiaError(error, description, status)
        return body
