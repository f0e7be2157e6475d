"""Registered information systems (ESIA "clients"): mnemonic, certificate, allowed redirects.

ESIA knows each system's certificate from its registration, checks `client_certificate_hash`
against it and verifies `client_secret` with its public key; redirect URIs are registered too.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from .gost import GostPublicKey, certificate_hash

DEFAULT_CLIENT_ID = "MEDCAB01"
TOKEN_ALGORITHMS = ("RS256", "GOST3410_2012_256")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_PEM_BODY = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def certificate_der_from_pem(pem: str) -> bytes:
    match = _PEM_BODY.search(pem)
    if match is None:
        raise ValueError("no PEM certificate found")
    return base64.b64decode("".join(match.group(1).split()))


def default_certificate_der() -> bytes:
    """The test certificate (CN=MEDCAB-TEST) shipped in this package's fixtures."""
    return resources.files("emulators.esia").joinpath("fixtures/client.der").read_bytes()


@dataclass
class RegisteredClient:
    client_id: str
    certificate_der: bytes
    # Exact URIs, or prefixes ending in "*".
    redirect_uris: list[str] = field(default_factory=list)
    # Any port on http://127.0.0.1 and http://localhost, for development and tests.
    allow_loopback: bool = True
    token_alg: str = "RS256"  # noqa: S105 - an algorithm name
    # ESIA can be set up to refuse unconfirmed accounts for a system (ESIA-007055).
    confirmed_only: bool = False
    public_key: GostPublicKey = field(init=False)
    certificate_hash: str = field(init=False)

    def __post_init__(self) -> None:
        if self.token_alg not in TOKEN_ALGORITHMS:
            raise ValueError(f"token_alg must be one of {', '.join(TOKEN_ALGORITHMS)}")
        self.public_key = GostPublicKey.from_certificate(self.certificate_der)
        self.certificate_hash = certificate_hash(self.certificate_der)

    def redirect_allowed(self, uri: str) -> bool:
        for allowed in self.redirect_uris:
            if uri == allowed or (allowed.endswith("*") and uri.startswith(allowed[:-1])):
                return True
        if not self.allow_loopback:
            return False
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            return False
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.username

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "certificate_hash": self.certificate_hash,
            "redirect_uris": list(self.redirect_uris),
            "allow_loopback": self.allow_loopback,
            "token_alg": self.token_alg,
            "confirmed_only": self.confirmed_only,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisteredClient:
        """`{"client_id", "certificate_pem" | "certificate_der_base64" (default: the test
        certificate), "redirect_uris", "allow_loopback", "token_alg", "confirmed_only"}`."""
        if "certificate_pem" in data:
            certificate = certificate_der_from_pem(str(data["certificate_pem"]))
        elif "certificate_der_base64" in data:
            certificate = base64.b64decode(str(data["certificate_der_base64"]))
        else:
            certificate = default_certificate_der()
        return cls(
            client_id=str(data["client_id"]),
            certificate_der=certificate,
            redirect_uris=[str(u) for u in data.get("redirect_uris", [])],
            allow_loopback=bool(data.get("allow_loopback", True)),
            token_alg=str(data.get("token_alg", "RS256")),
            confirmed_only=bool(data.get("confirmed_only", False)),
        )


def default_client(redirect_uris: list[str] | None = None) -> RegisteredClient:
    return RegisteredClient(DEFAULT_CLIENT_ID, default_certificate_der(), redirect_uris=list(redirect_uris or []))
