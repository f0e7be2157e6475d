"""GOST R 34.11-2012 (Streebog-256) and R 34.10-2012 (256 bit) in the byte order ESIA uses.

ESIA accepts what `openssl dgst -md_gost12_256 -sign` produces with the gost engine:

* the signature is s‖r, each half a big-endian 32-byte number;
* the digest is read as a little-endian number;
* a public key in a certificate is an OCTET STRING of x‖y, each half little-endian.

`gostcrypto` works with r‖s, a big-endian digest and big-endian coordinates, so every conversion
between the two conventions happens here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from gostcrypto import gosthash, gostsignature  # type: ignore[import-untyped]

from . import der

SIZE = 32
# id-GostR3410-2012-256 and the paramsets a 256-bit key can name, mapped to gostcrypto's tc26
# curve names (the CryptoPro sets are the same curves under older OIDs).
ALGORITHM_OID = "1.2.643.7.1.1.1.1"
STREEBOG256_OID = "1.2.643.7.1.1.2.2"
PARAMSETS: dict[str, str] = {
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
}
DEFAULT_PARAMSET_OID = "1.2.643.2.2.35.1"


class GostError(ValueError):
    pass


def streebog256(data: bytes) -> bytes:
    return bytes(gosthash.new("streebog256", data=bytearray(data)).digest())


def certificate_hash(certificate_der: bytes) -> str:
    """`client_certificate_hash`: upper-case hex Streebog-256 of the certificate's DER bytes."""
    return streebog256(certificate_der).hex().upper()


def _engine(curve: str) -> Any:
    # A fresh object per call: cheap, and safe to use from worker threads.
    return gostsignature.new(gostsignature.MODE_256, gostsignature.CURVES_R_1323565_1_024_2019[curve])


def _curve_order(curve: str) -> int:
    return int(gostsignature.CURVES_R_1323565_1_024_2019[curve]["q"])


def decode_signature(text: str) -> bytes | None:
    """The raw signature from `client_secret`: base64url with or without padding, or standard
    base64 (clients differ and ESIA accepts all). None if it is not base64 at all."""
    cleaned = "".join(text.split()).rstrip("=")
    if not cleaned:
        return None
    standard = cleaned.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def encode_signature(signature: bytes) -> str:
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class GostPublicKey:
    curve: str
    x: int
    y: int
    paramset_oid: str = DEFAULT_PARAMSET_OID

    @classmethod
    def from_certificate(cls, certificate_der: bytes) -> GostPublicKey:
        """The subject public key of an X.509 certificate with a GOST 2012-256 key."""
        try:
            tbs = der.parse(certificate_der).children()[0].children()
            # tbsCertificate: [0] version (optional), serial, signature, issuer, validity,
            # subject, subjectPublicKeyInfo, ...
            fields = tbs[1:] if tbs[0].tag == 0xA0 else tbs
            return cls.from_spki(fields[5])
        except (der.DerError, IndexError) as error:
            raise GostError(f"not a GOST certificate: {error}") from error

    @classmethod
    def from_spki(cls, spki: der.Tlv) -> GostPublicKey:
        algorithm, key_bits = spki.children()
        algorithm_oid, *params = algorithm.children()
        oid = der.decode_oid(algorithm_oid.value)
        if oid != ALGORITHM_OID:
            raise GostError(f"public key algorithm {oid} is not GOST R 34.10-2012 256")
        paramset_oid = der.decode_oid(params[0].children()[0].value) if params else DEFAULT_PARAMSET_OID
        curve = PARAMSETS.get(paramset_oid)
        if curve is None:
            raise GostError(f"unsupported GOST paramset {paramset_oid}")
        if key_bits.tag != der.BIT_STRING or key_bits.value[:1] != b"\x00":
            raise GostError("malformed public key BIT STRING")
        point = der.parse(key_bits.value[1:])
        if point.tag != der.OCTET_STRING or len(point.value) != 2 * SIZE:
            raise GostError("GOST public key must be a 64-byte OCTET STRING")
        x = int.from_bytes(point.value[:SIZE], "little")
        y = int.from_bytes(point.value[SIZE:], "little")
        return cls(curve, x, y, paramset_oid)

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo, as OpenSSL's gost engine writes it."""
        point = self.x.to_bytes(SIZE, "little") + self.y.to_bytes(SIZE, "little")
        algorithm = der.sequence(
            der.encode_oid(ALGORITHM_OID),
            der.sequence(der.encode_oid(self.paramset_oid), der.encode_oid(STREEBOG256_OID)),
        )
        return der.sequence(algorithm, der.encode(der.BIT_STRING, b"\x00" + der.encode(der.OCTET_STRING, point)))

    def pem(self) -> str:
        body = base64.encodebytes(self.spki_der()).decode("ascii").replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Check an OpenSSL/ESIA-order signature (s‖r) over `message`."""
        if len(signature) != 2 * SIZE:
            return False
        digest = streebog256(message)[::-1]
        r_s = signature[SIZE:] + signature[:SIZE]
        public = self.x.to_bytes(SIZE, "big") + self.y.to_bytes(SIZE, "big")
        try:
            return bool(_engine(self.curve).verify(bytearray(public), bytearray(digest), bytearray(r_s)))
        except gostsignature.GOSTSignatureError:
            return False


@dataclass(frozen=True)
class GostPrivateKey:
    curve: str
    d: int
    paramset_oid: str = DEFAULT_PARAMSET_OID

    @classmethod
    def generate(cls, paramset_oid: str = DEFAULT_PARAMSET_OID) -> GostPrivateKey:
        curve = PARAMSETS[paramset_oid]
        return cls(curve, secrets.randbelow(_curve_order(curve) - 1) + 1, paramset_oid)

    @classmethod
    def from_seed(cls, seed: bytes, paramset_oid: str = DEFAULT_PARAMSET_OID) -> GostPrivateKey:
        """A fixed key derived from `seed`, so a restarted emulator keeps the same GOST key."""
        curve = PARAMSETS[paramset_oid]
        return cls(curve, int.from_bytes(streebog256(seed), "big") % (_curve_order(curve) - 1) + 1, paramset_oid)

    def public_key(self) -> GostPublicKey:
        raw = bytes(_engine(self.curve).public_key_generate(bytearray(self.d.to_bytes(SIZE, "big"))))
        return GostPublicKey(
            self.curve, int.from_bytes(raw[:SIZE], "big"), int.from_bytes(raw[SIZE:], "big"), self.paramset_oid
        )

    def sign(self, message: bytes) -> bytes:
        """An OpenSSL/ESIA-order signature (s‖r) over `message`."""
        digest = streebog256(message)[::-1]
        r_s = bytes(_engine(self.curve).sign(bytearray(self.d.to_bytes(SIZE, "big")), bytearray(digest)))
        return r_s[SIZE:] + r_s[:SIZE]
