"""The keys ESIA signs its tokens with, and their rotation.

ESIA signs with RS256 or GOST3410_2012_256 depending on the system's settings, publishes its
certificates, and rotates keys without warning (the RSA key changed on 2024-05-23 and broke
clients that pinned one key). The emulator keeps a current key per algorithm plus the retired
ones: tokens are signed with the current key only, but tokens it issued earlier stay valid at its
own resource endpoints.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
from abc import ABC, abstractmethod
from importlib import resources
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .gost import GostPrivateKey, GostPublicKey

RS256 = "RS256"
GOST = "GOST3410_2012_256"
ALGORITHMS = (RS256, GOST)
DEFAULT_GOST_SEED = b"medcab ESIA emulator GOST token-signing key v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SigningKey(ABC):
    alg: str
    kid: str

    @abstractmethod
    def sign(self, data: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, data: bytes, signature: bytes) -> bool: ...

    @abstractmethod
    def public_pem(self) -> str: ...

    @abstractmethod
    def jwk(self) -> dict[str, Any]: ...

    def certificate_pem(self) -> str | None:
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "public_pem": self.public_pem(),
            "certificate_pem": self.certificate_pem(),
            "jwk": self.jwk(),
        }


class RsaSigningKey(SigningKey):
    alg = RS256

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).hexdigest()[:16]
        self._certificate = self._self_signed()

    @classmethod
    def generate(cls) -> RsaSigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def default(cls) -> RsaSigningKey:
        pem = resources.files("emulators.esia").joinpath("fixtures/token-signing-rsa.key").read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("fixtures/token-signing-rsa.key is not an RSA key")
        return cls(key)

    def _self_signed(self) -> x509.Certificate:
        # Fixed dates and serial: PKCS#1 v1.5 is deterministic, so one key gives one certificate.
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, "ESIA emulator token signing"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "medcab test"),
        ])  # fmt: skip
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.public_key)
            .serial_number(int(self.kid, 16))
            .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
            .not_valid_after(datetime.datetime(2036, 1, 1, tzinfo=datetime.UTC))
            .sign(self.private_key, hashes.SHA256())
        )

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def certificate_pem(self) -> str:
        return self._certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def jwk(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "alg": RS256,
            "use": "sig",
            "kid": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }


class GostSigningKey(SigningKey):
    """JWS with GOST R 34.10-2012 256 over the signing input, Streebog-256 digest, signature in
    the same s‖r / little-endian-digest order ESIA uses for client secrets."""

    alg = GOST

    def __init__(self, private_key: GostPrivateKey) -> None:
        self.private_key = private_key
        self.public_key: GostPublicKey = private_key.public_key()
        self.kid = hashlib.sha256(self.public_key.spki_der()).hexdigest()[:16]

    @classmethod
    def generate(cls) -> GostSigningKey:
        return cls(GostPrivateKey.generate())

    @classmethod
    def default(cls) -> GostSigningKey:
        return cls(GostPrivateKey.from_seed(DEFAULT_GOST_SEED))

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return self.public_key.verify(data, signature)

    def public_pem(self) -> str:
        return self.public_key.pem()

    def jwk(self) -> dict[str, Any]:
        # No JWK standard exists for GOST keys; coordinates are big-endian, as in RFC 7518 EC keys.
        return {
            "kty": "GOST",
            "alg": GOST,
            "use": "sig",
            "kid": self.kid,
            "crv": self.public_key.curve,
            "paramset_oid": self.public_key.paramset_oid,
            "x": b64url(self.public_key.x.to_bytes(32, "big")),
            "y": b64url(self.public_key.y.to_bytes(32, "big")),
        }


@functools.cache
def default_keys() -> tuple[SigningKey, SigningKey]:
    """The fixed default keys, loaded once per process (keys are never mutated)."""
    return RsaSigningKey.default(), GostSigningKey.default()


class KeyRing:
    def __init__(self) -> None:
        rsa_key, gost_key = default_keys()
        self.current: dict[str, SigningKey] = {RS256: rsa_key, GOST: gost_key}
        self.retired: list[SigningKey] = []

    def signing_key(self, alg: str) -> SigningKey:
        return self.current[alg]

    def rotate(self, alg: str | None = None) -> list[SigningKey]:
        """Replace the current key (of `alg`, or of every algorithm) with a fresh random one."""
        if alg is not None and alg not in ALGORITHMS:
            raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}")
        fresh: list[SigningKey] = []
        for name in [alg] if alg else list(ALGORITHMS):
            self.retired.append(self.current[name])
            new_key: SigningKey = RsaSigningKey.generate() if name == RS256 else GostSigningKey.generate()
            self.current[name] = new_key
            fresh.append(new_key)
        return fresh

    def verify(self, alg: str, data: bytes, signature: bytes) -> bool:
        """True if any key of `alg` this emulator ever signed with made this signature."""
        keys = [self.current[alg], *(k for k in reversed(self.retired) if k.alg == alg)] if alg in ALGORITHMS else []
        return any(key.verify(data, signature) for key in keys)

    def to_json(self) -> dict[str, Any]:
        current = [k.to_json() for k in self.current.values()]
        return {
            "current": current,
            "retired": [k.to_json() for k in self.retired],
            "keys": [k.jwk() for k in self.current.values()],  # JWKS-style: the keys in use
        }
