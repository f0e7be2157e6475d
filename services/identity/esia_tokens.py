"""Verifying ESIA's tokens: signature against configured keys (several, for rotation), then claims.

ESIA signs with RS256 or GOST R 34.10-2012 (a per-system setting); ``alg: none`` and anything
not configured are refused before a key is even looked at.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from cryptography.exceptions import UnsupportedAlgorithm
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from services.signing.errors import KeyFormatError
from services.signing.gost import Certificate, PublicKey

# ESIA's headers carry its own members ("ver", "sbt"); joserfc refuses unknown ones by default.
_ESIA_JWS = JWSRegistry(strict_check_header=False)

RS256 = "RS256"
GOST = "GOST3410_2012_256"


class TokenInvalid(Exception):
    """A token failed verification; the message names the check (never the token)."""


@dataclass(frozen=True)
class TokenKeys:
    rsa_public_pems: Sequence[bytes] = ()
    gost_certificates: Sequence[bytes] = ()  # certificates (or bare public keys), DER or PEM
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
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise TokenInvalid("malformed token") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed token")
    return header, claims, (pieces[0] + "." + pieces[1]).encode("ascii"), _b64decode(pieces[2])


def _rsa_key(pem: bytes) -> RSAKey | None:
    try:
        return RSAKey.import_key(pem)
    except (JoseError, ValueError, TypeError, UnsupportedAlgorithm):
        return None  # not an RSA key (a GOST key filed among them, say): it verifies nothing


def _gost_key(material: bytes) -> PublicKey | None:
    """The key of a GOST certificate, or a bare SubjectPublicKeyInfo (as the emulator publishes)."""
    try:
        return Certificate.load(material).public_key
    except (KeyFormatError, IndexError):
        pass
    try:
        return PublicKey.load(material)
    except (KeyFormatError, IndexError):
        return None


def verify_signature(token: str, keys: TokenKeys) -> dict[str, Any]:
    """The claims of ``token`` if a configured key verifies it with an allowed algorithm."""
    header, claims, signing_input, signature = _parts(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in keys.algorithms:
        raise TokenInvalid(f"algorithm {alg!r} is not accepted")
    if alg == RS256:
        for pem in keys.rsa_public_pems:
            rsa_key = _rsa_key(pem)
            if rsa_key is None:
                continue
            try:
                jws.deserialize_compact(token, rsa_key, algorithms=[RS256], registry=_ESIA_JWS)
                return claims
            except JoseError:
                continue
    elif alg == GOST:
        for material in keys.gost_certificates:
            gost_key = _gost_key(material)
            if gost_key is not None and gost_key.verify(signing_input, signature):
                return claims
    raise TokenInvalid("signature does not match any configured ESIA key")


@dataclass(frozen=True)
class ClaimRules:
    issuer: str
    client_id: str
    leeway: int = 60


def _is_time(value: Any) -> TypeGuard[float]:
    # Python's json reads NaN and Infinity: a NaN "exp" would compare False and never expire.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_times(claims: dict[str, Any], leeway: int, now: float | None = None) -> None:
    moment = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not _is_time(exp) or moment > exp + leeway:
        raise TokenInvalid("token expired")
    if nbf is not None and (not _is_time(nbf) or moment + leeway < nbf):
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
