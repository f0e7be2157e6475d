"""Crafted ESIA tokens for the client's verification tests: any header, any claims, any key.

The emulator's own signing keys (``emulators.esia.signing_keys``) sign them, so a token can be
exactly what ESIA would send or deliberately wrong in one respect.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from cryptography.hazmat.primitives import serialization

from emulators.esia import der
from emulators.esia.signing_keys import GostSigningKey, RsaSigningKey, SigningKey, b64url

ISSUER = "http://esia-portal1.test.gosuslugi.ru/"
CLIENT_ID = "MEDCAB01"
OID = 1000400001
RS256 = "RS256"
GOST = "GOST3410_2012_256"


def part(value: Any) -> str:
    return b64url(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def header(kind: str = "access", alg: str = RS256) -> dict[str, Any]:
    """ESIA's header: its own members ``ver`` and ``sbt``, no ``kid``."""
    return {"ver": 1, "typ": "JWT", "sbt": kind, "alg": alg}


def sign(head: dict[str, Any], claims: dict[str, Any], key: SigningKey) -> str:
    signing_input = f"{part(head)}.{part(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def access_claims(now: int, **changes: Any) -> dict[str, Any]:
    """An access token's claims as ESIA issues them (``None`` in ``changes`` removes a claim)."""
    claims = {
        "nbf": now,
        "scope": f"fullname?oid={OID} snils?oid={OID} openid",
        "iss": ISSUER,
        "urn:esia:sid": "3c1b5e4c-0000-4000-8000-000000000001",
        "urn:esia:sbj_id": OID,
        "exp": now + 3600,
        "iat": now,
        "client_id": CLIENT_ID,
    }
    return _changed(claims, changes)


def id_claims(now: int, trusted: bool = True, **changes: Any) -> dict[str, Any]:
    subject: dict[str, Any] = {
        "urn:esia:sbj:typ": "P",
        "urn:esia:sbj:oid": OID,
        "urn:esia:sbj:nam": f"OID.{OID}",
        "urn:esia:sbj:lvl": "PR" if trusted else "P",
    }
    if trusted:
        subject["urn:esia:sbj:is_tru"] = True
    claims = {
        "amr": "PWD",
        "sub": OID,
        "auth_time": now,
        "iss": ISSUER,
        "urn:esia:amd": "PWD",
        "urn:esia:sid": "3c1b5e4c-0000-4000-8000-000000000001",
        "urn:esia:sbj": subject,
        "aud": CLIENT_ID,
        "nbf": now,
        "exp": now + 3600,
        "iat": now,
    }
    return _changed(claims, changes)


def _changed(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def rsa_public_pem(key: RsaSigningKey) -> bytes:
    return key.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- a GOST certificate for a GOST signing key ---------------------------------------------------

_GOST_SIGN_ALG = "1.2.643.7.1.1.3.2"  # id-tc26-signwithdigest-gost3410-12-256
_COMMON_NAME = "2.5.4.3"
_UTF8_STRING = 0x0C
_UTC_TIME = 0x17
_INTEGER = 0x02
_BIT_STRING = 0x03


def _name(common_name: str) -> bytes:
    attribute = der.sequence(der.encode_oid(_COMMON_NAME), der.encode(_UTF8_STRING, common_name.encode("utf-8")))
    return der.sequence(der.encode(0x31, attribute))  # SET OF one attribute


def _utc(moment: datetime.datetime) -> bytes:
    return der.encode(_UTC_TIME, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))


def gost_certificate_pem(key: GostSigningKey, common_name: str = "ESIA emulator GOST token signing") -> bytes:
    """A self-signed X.509 v3 certificate around ``key``'s public key, as ESIA publishes its GOST key.

    The emulator publishes the bare public key only; the service reads certificates. The
    certificate's own signature is made with the key but is not what any test is about.
    """
    algorithm = der.sequence(der.encode_oid(_GOST_SIGN_ALG))
    tbs = der.sequence(
        der.encode(0xA0, der.encode(_INTEGER, b"\x02")),  # [0] EXPLICIT version v3
        der.encode(_INTEGER, bytes.fromhex("01" + key.kid[:14])),
        algorithm,
        _name(common_name),
        der.sequence(
            _utc(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)),
            _utc(datetime.datetime(2036, 1, 1, tzinfo=datetime.UTC)),
        ),
        _name(common_name),
        key.public_key.spki_der(),
    )
    certificate = der.sequence(tbs, algorithm, der.encode(_BIT_STRING, b"\x00" + key.sign(tbs)))
    return pem("CERTIFICATE", certificate)


def pem(label: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode("ascii")
    lines = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode("ascii")
