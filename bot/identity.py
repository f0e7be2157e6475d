"""Wiring of sign-in with Gosuslugi: the signer, ESIA's keys, the ESIA and register clients.

Everything is checked at start: a key that does not match its certificate, or an unreadable ESIA
key, stops the process with one line naming the setting — not at the first doctor's sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from bot.settings import Settings, SettingsError
from handlers.auth import AuthLinks
from services.identity.access import SecurityPolicy
from services.identity.esia_client import EsiaClient, EsiaConfig
from services.identity.esia_tokens import TokenKeys
from services.identity.linking import LinkPolicy
from services.identity.register import RegisterClient
from services.signing.errors import SigningError
from services.signing.signer import check_signer, make_signer

CALLBACK_PATH = "/auth/esia/callback"
START_PATH = "/auth/esia/start"
LOGGED_OUT_PATH = "/auth/esia/logged-out"


@dataclass(frozen=True)
class Identity:
    esia: EsiaClient
    register: RegisterClient
    links: AuthLinks
    link_policy: LinkPolicy


def security_policy(settings: Settings) -> SecurityPolicy:
    s = settings.session
    return SecurityPolicy(
        idle_timeout=timedelta(minutes=s.idle_timeout_minutes),
        max_pin_attempts=s.max_pin_attempts,
        pin_lock=timedelta(minutes=s.pin_lock_minutes),
    )


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read {path} ({exc.strerror})") from None


def _classify_key(pem: bytes) -> tuple[str, bytes]:
    """ESIA publishes certificates; RS256 needs the RSA public key in them, GOST the certificate."""
    if b"BEGIN PUBLIC KEY" in pem:
        try:
            key = load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm):
            return "gost", pem  # a bare GOST public key, as ESIA's emulator publishes one
        return ("rsa", pem) if isinstance(key, rsa.RSAPublicKey) else ("unknown", pem)
    if b"BEGIN CERTIFICATE" not in pem:
        return "unknown", pem
    try:
        public_key = x509.load_pem_x509_certificate(pem).public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "gost", pem  # cryptography does not know GOST keys; services.signing does
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa", public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return "unknown", pem


def build_identity(settings: Settings, http: aiohttp.ClientSession) -> Identity | None:
    if not settings.identity_configured():
        return None
    esia = settings.esia
    assert settings.esia_url and settings.public_url and settings.frmr.url and esia.key_path
    if esia.cert_path is None:
        raise SettingsError("MEDCAB_ESIA__CERT_PATH: the certificate registered at ESIA is needed with the key")
    try:
        signer = make_signer(esia.signer, esia.key_path, esia.cert_path, esia.openssl_conf)
        check_signer(signer)
    except (SigningError, OSError, ValueError) as exc:
        raise SettingsError(f"MEDCAB_ESIA__KEY_PATH: {exc}") from None
    key_paths = [Path(p.strip()) for p in (esia.token_keys or "").split(",") if p.strip()]
    if not key_paths:
        raise SettingsError("MEDCAB_ESIA__TOKEN_KEYS: paths of ESIA's token-signing keys (PEM), comma-separated")
    algorithms = frozenset(a.strip() for a in esia.token_algorithms.split(",") if a.strip())
    rsa_keys: list[bytes] = []
    gost_certificates: list[bytes] = []
    for path in key_paths:
        pem = _read(path, "MEDCAB_ESIA__TOKEN_KEYS")
        kind, material = _classify_key(pem)
        if kind == "rsa":
            rsa_keys.append(material)
        elif kind == "gost":
            gost_certificates.append(material)
        else:
            raise SettingsError(f"MEDCAB_ESIA__TOKEN_KEYS: {path} is neither an RSA key nor a GOST certificate")
    keys = TokenKeys(rsa_public_pems=rsa_keys, gost_certificates=gost_certificates, algorithms=algorithms)
    issuer = esia.issuer or f"http://{urlsplit(settings.esia_url).netloc}/"
    config = EsiaConfig(
        base_url=settings.esia_url,
        client_id=esia.client_id,
        redirect_uri=settings.public_url + CALLBACK_PATH,
        issuer=issuer,
        keys=keys,
        scope=esia.scope,
        timeout=esia.timeout_seconds,
    )
    client = EsiaClient(config, signer, http)
    api_key = settings.frmr.api_key.get_secret_value() if settings.frmr.api_key else None
    register = RegisterClient(settings.frmr.url, http, api_key, settings.frmr.timeout_seconds)
    links = AuthLinks(
        start_url=settings.public_url + START_PATH,
        esia_logout_url=client.logout_url(settings.public_url + LOGGED_OUT_PATH),
    )
    s = settings.session
    policy = LinkPolicy(max_failures=s.sign_in_max_failures, block_for=timedelta(minutes=s.sign_in_block_minutes))
    return Identity(esia=client, register=register, links=links, link_policy=policy)
