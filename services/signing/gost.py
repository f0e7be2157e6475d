"""GOST R 34.10-2012 (256 bit) keys, certificates, Streebog-256, sign and verify, on ``gostcrypto``.

Everything here speaks the byte orders of OpenSSL's gost engine, which is what ESIA accepts; only
the calls into ``gostcrypto`` (which is big-endian throughout) convert. Established against the
OpenSSL-made vectors in ``tests/fixtures/esia`` (see ``tests/signing/test_gost.py``):

* signature: ``s ‖ r``, each 32 bytes big-endian (``gostcrypto`` uses ``r ‖ s``);
* the message digest ``e`` is the Streebog-256 output read as a little-endian number;
* a public key in a certificate is ``x ‖ y``, each 32 bytes little-endian;
* the private key in a PKCS#8 file written by the engine is 32 bytes little-endian.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from gostcrypto import gosthash, gostsignature  # type: ignore[import-untyped]

from services.signing import der
from services.signing.errors import KeyFormatError, KeyMismatchError

SIZE = 32  # bytes in a 256-bit scalar, coordinate or digest
SIGNATURE_SIZE = 2 * SIZE

# id-tc26-gost3410-12-256: the key algorithm in keys and certificates.
GOST_2012_256 = "1.2.643.7.1.1.1.1"

# Curve parameter-set OIDs → gostcrypto's curve names. The CryptoPro sets of GOST 2001 are the same
# curves as tc26 ones (R 1323565.1.024-2019): CryptoPro-A = tc26 paramSetB, and so on.
PARAMSETS: dict[str, str] = {
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A (OpenSSL paramset A)
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
}


def streebog256(data: bytes) -> bytes:
    """GOST R 34.11-2012, 256-bit output, in the byte order OpenSSL prints."""
    return bytes(gosthash.new("streebog256", data=bytearray(data)).digest())


def certificate_hash(certificate_der: bytes) -> str:
    """ESIA's ``client_certificate_hash``: upper-case hex Streebog-256 of the certificate's DER.

    Hashing the PEM text instead is the classic ESIA-007053 mistake, hence DER only here.
    """
    if certificate_der.lstrip().startswith(b"-----BEGIN"):
        raise KeyFormatError("certificate_hash() takes the certificate's DER, not PEM text")
    return streebog256(certificate_der).hex().upper()


@functools.cache
def _curve(paramset_oid: str) -> Any:
    # Building a curve checks its parameters (slow-ish), and the object is stateless: share it.
    return gostsignature.new(gostsignature.MODE_256, gostsignature.CURVES_R_1323565_1_024_2019[PARAMSETS[paramset_oid]])


def _order(paramset_oid: str) -> int:
    q: int = gostsignature.CURVES_R_1323565_1_024_2019[PARAMSETS[paramset_oid]]["q"]
    return q


def _digest_for_gostcrypto(data: bytes) -> bytearray:
    # OpenSSL takes the digest as a little-endian number, gostcrypto as big-endian: reverse.
    return bytearray(streebog256(data)[::-1])


def _paramset(algorithm: der.Tlv) -> str:
    """The curve of an AlgorithmIdentifier ``{gost2012_256, {paramset, [digest]}}``."""
    parts = algorithm.expect(der.SEQUENCE).children
    oid = parts[0].oid()
    if oid != GOST_2012_256:
        raise KeyFormatError(f"key algorithm {oid} is not GOST R 34.10-2012 256 bit ({GOST_2012_256})")
    if len(parts) < 2 or parts[1].tag != der.SEQUENCE:
        raise KeyFormatError("GOST key without its parameter set")
    paramset = parts[1].children[0].oid()
    if paramset not in PARAMSETS:
        raise KeyFormatError(f"unsupported GOST 256-bit parameter set {paramset}")
    return paramset


@dataclass(frozen=True)
class PublicKey:
    paramset_oid: str
    x: int
    y: int

    @classmethod
    def from_spki(cls, spki: der.Tlv) -> PublicKey:
        """Read a SubjectPublicKeyInfo (the certificate's, or a ``-----BEGIN PUBLIC KEY-----``)."""
        algorithm, key = spki.expect(der.SEQUENCE).children[:2]
        paramset = _paramset(algorithm)
        point = der.read(key.bit_string()).expect(der.OCTET_STRING).content
        if len(point) != 2 * SIZE:
            raise KeyFormatError(f"GOST 256-bit public key must be {2 * SIZE} bytes, found {len(point)}")
        return cls(paramset, int.from_bytes(point[:SIZE], "little"), int.from_bytes(point[SIZE:], "little"))

    @classmethod
    def load(cls, data: bytes) -> PublicKey:
        """A public key from PEM/DER SubjectPublicKeyInfo (``openssl pkey -pubout``)."""
        return cls.from_spki(der.read(der.unarmor(data, ("PUBLIC KEY",))))

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Check an OpenSSL/ESIA-order signature (``s ‖ r``) over ``data``. Never raises on a bad one."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        point = bytearray(self.x.to_bytes(SIZE, "big") + self.y.to_bytes(SIZE, "big"))
        r_s = bytearray(signature[SIZE:] + signature[:SIZE])
        return bool(_curve(self.paramset_oid).verify(point, _digest_for_gostcrypto(data), r_s))


class PrivateKey:
    """A GOST R 34.10-2012 256-bit private key. Its ``repr`` never shows the secret."""

    __slots__ = ("_d", "paramset_oid")

    def __init__(self, paramset_oid: str, d: int) -> None:
        if paramset_oid not in PARAMSETS:
            raise KeyFormatError(f"unsupported GOST 256-bit parameter set {paramset_oid}")
        if not 0 < d < _order(paramset_oid):
            raise KeyFormatError("GOST private key out of range for its curve")
        self.paramset_oid = paramset_oid
        self._d = d

    def __repr__(self) -> str:
        return f"PrivateKey(paramset_oid={self.paramset_oid!r})"

    @classmethod
    def load(cls, data: bytes) -> PrivateKey:
        """An unencrypted PKCS#8 ``gost2012_256`` key, PEM (``PRIVATE KEY``) or DER."""
        if b"ENCRYPTED PRIVATE KEY" in data:
            raise KeyFormatError("encrypted private keys are not supported: export without a password")
        info = der.read(der.unarmor(data, ("PRIVATE KEY",))).expect(der.SEQUENCE).children
        if len(info) < 3:
            raise KeyFormatError("not a PKCS#8 PrivateKeyInfo")
        paramset = _paramset(info[1])
        return cls(paramset, _private_scalar(info[2].expect(der.OCTET_STRING).content))

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> PrivateKey:
        return cls.load(Path(path).read_bytes())

    @classmethod
    def generate(cls, paramset_oid: str = "1.2.643.7.1.2.1.1.1") -> PrivateKey:
        """A fresh random key (tc26 paramSetA by default): the document signer's per-doctor keys."""
        return cls(paramset_oid, secrets.randbelow(_order(paramset_oid) - 1) + 1)

    def export_scalar(self) -> bytes:
        """The 32-byte secret, big-endian: only for encrypting it at rest, never for display."""
        return self._d.to_bytes(SIZE, "big")

    def public_key(self) -> PublicKey:
        point = bytes(_curve(self.paramset_oid).public_key_generate(bytearray(self._d.to_bytes(SIZE, "big"))))
        return PublicKey(self.paramset_oid, int.from_bytes(point[:SIZE], "big"), int.from_bytes(point[SIZE:], "big"))

    def sign(self, data: bytes) -> bytes:
        """Streebog-256 of ``data`` signed with a fresh random k: 64 bytes, ``s ‖ r`` big-endian."""
        # gostcrypto wipes the key buffer it is given, so it gets a fresh one each time.
        r_s = bytes(
            _curve(self.paramset_oid).sign(bytearray(self._d.to_bytes(SIZE, "big")), _digest_for_gostcrypto(data))
        )
        return r_s[SIZE:] + r_s[:SIZE]


def _private_scalar(content: bytes) -> int:
    """The PKCS#8 ``privateKey`` of a GOST key, in the layouts OpenSSL's gost engine reads.

    The current engine writes the bare 32 bytes, little-endian. Older tools wrapped them in an
    OCTET STRING (also little-endian) or wrote an INTEGER (big-endian). Masked CryptoPro exports
    (key followed by masks) are refused rather than half-supported.
    """
    if len(content) == SIZE:
        return int.from_bytes(content, "little")
    if len(content) % SIZE == 0:
        raise KeyFormatError("masked GOST private keys are not supported: re-export with `openssl pkey`")
    inner = der.read(content)
    if inner.tag == der.OCTET_STRING and len(inner.content) == SIZE:
        return int.from_bytes(inner.content, "little")
    if inner.tag == der.INTEGER:
        return inner.integer()
    raise KeyFormatError("unrecognised GOST private key layout")


@dataclass(frozen=True)
class Certificate:
    der: bytes
    public_key: PublicKey

    @classmethod
    def load(cls, data: bytes) -> Certificate:
        """An X.509 certificate with a GOST 2012 256-bit key, PEM or DER."""
        raw = der.unarmor(data, ("CERTIFICATE",))
        tbs = der.read(raw).expect(der.SEQUENCE).children[0].expect(der.SEQUENCE).children
        # tbsCertificate: [0] version (optional), serial, signature, issuer, validity, subject, SPKI
        spki = tbs[6] if tbs[0].tag == der.CONTEXT_0 else tbs[5]
        return cls(raw, PublicKey.from_spki(spki))

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> Certificate:
        return cls.load(Path(path).read_bytes())

    @property
    def hash(self) -> str:
        """``client_certificate_hash`` for ESIA."""
        return certificate_hash(self.der)


def verify(key: Certificate | PublicKey | bytes, data: bytes, signature: bytes) -> bool:
    """Is ``signature`` (OpenSSL/ESIA order) a valid signature of ``data`` by ``key``?

    ``key`` is a certificate, a public key, or certificate bytes (PEM or DER). A malformed key
    raises ``KeyFormatError``; a wrong or malformed signature just returns False.
    """
    if isinstance(key, bytes):
        key = Certificate.load(key)
    public_key = key.public_key if isinstance(key, Certificate) else key
    return public_key.verify(data, signature)


def check_key_pair(private_key: PrivateKey, certificate: Certificate) -> None:
    """Refuse a key that is not the certificate's: ESIA would reject every request it signs."""
    if private_key.public_key() != certificate.public_key:
        raise KeyMismatchError("the private key does not match the certificate's public key")
