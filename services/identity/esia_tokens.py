"""Verifying ESIA's tokens: signature against configured keys (several, for rotation), then claims.

ESIA signs with RS256 or GOST R 34.10-2012 (a per-system setting); ``alg: none`` and anything
not configured are refused before a key is even looked at.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from services.signing.gost import Certificate

# ESIA's headers carry its own members ("ver", "sbt"); joserfc refuses unknown ones by default.
_ESIA_JWS = JWSRegistry(strict_check_header=False)

RS256 = "RS256"
GOST = "GOST3410_2012_256"


class TokenInvalid(Exception):
    """A token failed verification; the message names the check (never the token)."""


@dataclass(frozen=True)
class TokenKeys:
    rsa_public_pems: Sequence[bytes] = ()
    gost_certificates: Sequence[bytes] = ()  # DER or PEM
    algorithms: frozenset[str] = frozenset({RS256})


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("malformed token") from exc


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    pieces = token.split(".")
    if len(pieces) != 3:
        raise TokenInvalid("malformed token")
    try:
        header = json.loads(_b64decode(pieces[0]))
        claims = json.loads(_b64decode(pieces[1]))
    except ValueError as exc:
        raise TokenInvalid("malformed token") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed token")
    return header, claims, (pieces[0] + "." + pieces[1]).encode("ascii"), _b64decode(pieces[2])


def verify_signature(token: str, keys: TokenKeys) -> dict[str, Any]:
    """The claims of ``token`` if a configured key verifies it with an allowed algorithm."""
    header, claims, signing_input, signature = _parts(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in keys.algorithms:
        raise TokenInvalid(f"algorithm {alg!r} is not accepted")
    if alg == RS256:
        for pem in keys.rsa_public_pems:
            try:
                jws.deserialize_compact(token, RSAKey.import_key(pem), algorithms=[RS256], registry=_ESIA_JWS)
                return claims
            except JoseError:
                continue
    elif alg == GOST:
        for cert in keys.gost_certificates:
            if Certificate.load(cert).public_key.verify(signing_input, signature):
                return claims
    raise TokenInvalid("signature does not match any configured ESIA key")


@dataclass(frozen=True)
class ClaimRules:
    issuer: str
    client_id: str
    leeway: int = 60


def check_times(claims: dict[str, Any], leeway: int, now: float | None = None) -> None:
    moment = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or moment > exp + leeway:
        raise TokenInvalid("token expired")
    if nbf is not None and (not isinstance(nbf, int | float) or moment + leeway < nbf):
        raise TokenInvalid("token not yet valid")


def verify_access_token(token: str, keys: TokenKeys, rules: ClaimRules, now: float | None = None) -> dict[str, Any]:
    claims = verify_signature(token, keys)
    if claims.get("iss") != rules.issuer:
        raise TokenInvalid("unexpected issuer")
    if claims.get("client_id") != rules.client_id:
        raise TokenInvalid("token issued to another client")
    check_times(claims, rules.leeway, now)
    if not isinstance(claims.get("urn:esia:sbj_id"), int | str):
        raise TokenInvalid("no subject")
    return claims


def verify_id_token(token: str, keys: TokenKeys, rules: ClaimRules, now: float | None = None) -> dict[str, Any]:
    claims = verify_signature(token, keys)
    if claims.get("iss") != rules.issuer:
        raise TokenInvalid("unexpected issuer")
    aud = claims.get("aud")
    if aud != rules.client_id and not (isinstance(aud, list) and rules.client_id in aud):
        raise TokenInvalid("token issued to another client")
    check_times(claims, rules.leeway, now)
    if not claims.get("sub"):
        raise TokenInvalid("no subject")
    return claims
