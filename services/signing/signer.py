"""Who signs ESIA requests: a pluggable ``Signer``, the pure-Python one, and the factory.

Production ESIA wants certified crypto (СКЗИ), development and tests do not, so the key holder is an
interface: ``GostcryptoSigner`` (pure Python, default for development and the demo),
``OpenSSLGostSigner`` (the gost engine, in ``services.signing.openssl``), and later a CryptoPro or
remote signing-service signer with the same four members.
"""

from __future__ import annotations

import asyncio
from os import PathLike
from typing import Literal, Protocol

from services.signing.errors import KeyMismatchError
from services.signing.gost import Certificate, PrivateKey, check_key_pair, verify
from services.signing.openssl import OpenSSLGostSigner

SignerKind = Literal["gostcrypto", "openssl"]


class Signer(Protocol):
    """Holds the system's key and certificate and signs with GOST R 34.10-2012 (256 bit)."""

    @property
    def certificate_der(self) -> bytes:
        """The certificate ESIA has registered for the system."""
        ...

    @property
    def certificate_hash(self) -> str:
        """``client_certificate_hash``: upper-case hex Streebog-256 of ``certificate_der``."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Raw 64-byte signature of ``data`` in OpenSSL/ESIA order (``s ‖ r``). Blocks."""
        ...

    async def sign_async(self, data: bytes) -> bytes:
        """``sign`` without blocking the event loop (signing costs tens of milliseconds)."""
        ...


class GostcryptoSigner:
    """Pure-Python signer (``gostcrypto``): no system packages needed, not certified crypto."""

    def __init__(self, private_key: PrivateKey, certificate: Certificate) -> None:
        # A mismatched pair would only show up as ESIA-007053 on every sign-in: fail at start.
        check_key_pair(private_key, certificate)
        self._key = private_key
        self.certificate = certificate

    @classmethod
    def from_files(cls, key_path: str | PathLike[str], cert_path: str | PathLike[str]) -> GostcryptoSigner:
        return cls(PrivateKey.from_file(key_path), Certificate.from_file(cert_path))

    @classmethod
    def from_bytes(cls, key: bytes, certificate: bytes) -> GostcryptoSigner:
        """Key (PKCS#8) and certificate as PEM or DER bytes, e.g. from a secret store."""
        return cls(PrivateKey.load(key), Certificate.load(certificate))

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.der

    @property
    def certificate_hash(self) -> str:
        return self.certificate.hash

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    async def sign_async(self, data: bytes) -> bytes:
        # Pure Python holds the GIL, so this buys responsiveness (the interpreter switches threads
        # every few ms), not parallelism; that is what the event loop needs.
        return await asyncio.to_thread(self._key.sign, data)


def check_signer(signer: Signer) -> None:
    """Sign a probe and verify it against the signer's own certificate; raise if it fails.

    Cheap enough for startup, and it catches a key that is not the certificate's and a backend
    producing the wrong byte order before ESIA does.
    """
    probe = b"medcab signer self-check"
    if not verify(Certificate.load(signer.certificate_der), probe, signer.sign(probe)):
        raise KeyMismatchError("the signer's signature does not verify against its certificate")


def make_signer(
    kind: SignerKind,
    key_path: str | PathLike[str],
    cert_path: str | PathLike[str],
    openssl_conf: str | PathLike[str] | None = None,
) -> Signer:
    """The configured signer. ``openssl_conf`` (an ``OPENSSL_CONF`` loading the gost engine) is
    used by the ``openssl`` kind only; without it openssl's own environment decides."""
    if kind == "gostcrypto":
        return GostcryptoSigner.from_files(key_path, cert_path)
    if kind == "openssl":
        return OpenSSLGostSigner(key_path, cert_path, openssl_conf=openssl_conf)
    raise ValueError(f"unknown signer kind {kind!r}: expected 'gostcrypto' or 'openssl'")
