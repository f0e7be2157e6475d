"""The access and id tokens, shaped like real ESIA ones.

Headers carry ESIA's own members (`ver`, `sbt`) and no `kid`. Claims follow tokens published from
the test stand: `sub`, `urn:esia:sbj_id` and the subject oid are integers, `amr` is a single
string, and the subject block uses prefixed member names (`urn:esia:sbj:typ`, `…:oid`, `…:nam`,
`…:lvl`, `…:is_tru`), with `is_tru` absent for an unconfirmed account.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .personas import Persona
from .signing_keys import KeyRing, b64url

ACCESS_LIFETIME = 3600


class TokenInvalid(ValueError):
    pass


def encode(header: dict[str, Any], claims: dict[str, Any], keys: KeyRing) -> str:
    key = keys.signing_key(str(header["alg"]))
    signing_input = f"{_part(header)}.{_part(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def _part(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _unpart(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise TokenInvalid("malformed base64url") from error


def decode(token: str, keys: KeyRing) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token this emulator signed; TokenInvalid otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid("not a compact JWS")
    try:
        header = json.loads(_unpart(parts[0]))
        claims = json.loads(_unpart(parts[1]))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TokenInvalid("malformed JSON") from error
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("header and claims must be objects")
    alg = header.get("alg")
    if not isinstance(alg, str) or not keys.verify(alg, f"{parts[0]}.{parts[1]}".encode("ascii"), _unpart(parts[2])):
        raise TokenInvalid("bad signature")
    return header, claims


def header(kind: str, alg: str) -> dict[str, Any]:
    """`kind` is "access" or "id" (ESIA's `sbt`, subject token type)."""
    return {"ver": 1, "typ": "JWT", "sbt": kind, "alg": alg}


def token_scope(scopes: list[str], oid: int) -> str:
    """ESIA's access-token scope: data scopes bound to the oid, `openid` last and plain."""
    bound = [f"{s}?oid={oid}" for s in scopes if s != "openid"]
    return " ".join(bound + (["openid"] if "openid" in scopes else []))


@dataclass(frozen=True)
class Grant:
    """What a token is issued for: who, to which system, with which scopes and session."""

    persona: Persona
    client_id: str
    scopes: list[str]
    sid: str
    auth_time: int


def access_claims(grant: Grant, issuer: str, now: int) -> dict[str, Any]:
    return {
        "nbf": now,
        "scope": token_scope(grant.scopes, grant.persona.oid),
        "iss": issuer,
        "urn:esia:sid": grant.sid,
        "urn:esia:sbj_id": grant.persona.oid,
        "exp": now + ACCESS_LIFETIME,
        "iat": now,
        "client_id": grant.client_id,
    }


def id_claims(grant: Grant, issuer: str, now: int) -> dict[str, Any]:
    persona = grant.persona
    subject: dict[str, Any] = {
        "urn:esia:sbj:typ": "P",
        "urn:esia:sbj:oid": persona.oid,
        "urn:esia:sbj:nam": f"OID.{persona.oid}",
        "urn:esia:sbj:lvl": persona.level,
    }
    if persona.trusted:
        subject["urn:esia:sbj:is_tru"] = True
    return {
        "amr": persona.amr,
        "sub": persona.oid,
        "auth_time": grant.auth_time,
        "iss": issuer,
        "urn:esia:amd": persona.amr,
        "urn:esia:sid": grant.sid,
        "urn:esia:sbj": subject,
        "aud": grant.client_id,
        "nbf": now,
        "exp": now + ACCESS_LIFETIME,
        "iat": now,
    }
