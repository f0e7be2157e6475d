"""GOST primitives against the OpenSSL-made vectors: this is where the byte order is proven.

``signature.bin`` was made by OpenSSL's gost engine over ``message.txt``; if our verifier accepts
it and rejects every one-bit change, the conversions in ``services.signing.gost`` (s‖r, each half
big-endian, digest read little-endian, certificate point little-endian) are the engine's.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.signing import (
    Certificate,
    KeyFormatError,
    PrivateKey,
    PublicKey,
    certificate_hash,
    streebog256,
    verify,
)
from services.signing.gost import PARAMSETS

CRYPTOPRO_A = "1.2.643.2.2.35.1"


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def tlv(tag: int, content: bytes) -> bytes:
    assert len(content) < 0x80
    return bytes([tag, len(content)]) + content


def pem_to_der(pem: bytes) -> bytes:
    return base64.b64decode(b"".join(line for line in pem.splitlines() if not line.startswith(b"-----")))


# --- verify: signature.bin over message.txt ----------------------------------------------------


def test_verifier_accepts_the_openssl_signature(vectors, certificate) -> None:
    assert verify(certificate, vectors.message, vectors.signature)
    assert verify(certificate.public_key, vectors.message, vectors.signature)
    assert verify(vectors.cert_der, vectors.message, vectors.signature)
    assert verify(vectors.cert_pem, vectors.message, vectors.signature)


@pytest.mark.parametrize("bit", [0, 7, 8 * 64, 8 * 127 + 7])
def test_verifier_rejects_a_changed_message(vectors, certificate, bit: int) -> None:
    assert not verify(certificate, flip_bit(vectors.message, bit), vectors.signature)


@pytest.mark.parametrize("bit", [0, 8 * 31 + 7, 8 * 32, 8 * 63 + 7])  # both ends of s and of r
def test_verifier_rejects_a_changed_signature(vectors, certificate, bit: int) -> None:
    assert not verify(certificate, vectors.message, flip_bit(vectors.signature, bit))


def test_only_the_openssl_byte_order_verifies(vectors, certificate) -> None:
    s, r = vectors.signature[:32], vectors.signature[32:]
    assert not verify(certificate, vectors.message, r + s)  # gostcrypto's own order
    assert not verify(certificate, vectors.message, vectors.signature[::-1])  # CryptoPro csptest order


@pytest.mark.parametrize("signature", [b"", b"\x00" * 64, b"\xff" * 64, b"\x01" * 63, b"\x01" * 65])
def test_malformed_signatures_are_rejected_not_raised(vectors, certificate, signature: bytes) -> None:
    assert not verify(certificate, vectors.message, signature)


# --- client_certificate_hash -------------------------------------------------------------------


def test_certificate_hash_of_the_der_is_the_vector(vectors, certificate) -> None:
    assert certificate_hash(vectors.cert_der) == vectors.cert_hash
    assert certificate.hash == vectors.cert_hash
    assert Certificate.load(vectors.cert_pem).hash == vectors.cert_hash  # PEM input, DER hashed
    assert vectors.cert_hash == vectors.cert_hash.upper() and len(vectors.cert_hash) == 64


def test_hashing_the_pem_text_is_the_esia_007053_mistake(vectors) -> None:
    assert streebog256(vectors.cert_pem).hex().upper() != vectors.cert_hash
    with pytest.raises(KeyFormatError, match="DER, not PEM"):
        certificate_hash(vectors.cert_pem)


# --- keys and certificates ---------------------------------------------------------------------


def test_private_key_is_cryptopro_a_and_matches_the_certificate(vectors, certificate) -> None:
    key = PrivateKey.from_file(vectors.key_path)
    assert key.paramset_oid == CRYPTOPRO_A
    assert PARAMSETS[CRYPTOPRO_A] == "id-tc26-gost-3410-2012-256-paramSetB"
    assert certificate.public_key.paramset_oid == CRYPTOPRO_A
    assert key.public_key() == certificate.public_key


def test_private_key_pem_and_der_load_alike(vectors) -> None:
    pem = vectors.key_path.read_bytes()
    assert PrivateKey.load(pem).public_key() == PrivateKey.load(pem_to_der(pem)).public_key()


def test_private_key_repr_hides_the_secret(vectors) -> None:
    key = PrivateKey.from_file(vectors.key_path)
    secret = pem_to_der(vectors.key_path.read_bytes())[-32:]
    assert repr(key) == f"PrivateKey(paramset_oid={CRYPTOPRO_A!r})"
    assert secret.hex() not in repr(key) and str(int.from_bytes(secret, "little")) not in repr(key)


def _pkcs8_with(vectors, private_key_content: bytes) -> bytes:
    """The vector's key with another ``privateKey`` layout (same algorithm identifier)."""
    original = pem_to_der(vectors.key_path.read_bytes())
    algorithm = original[5:38]  # SEQUENCE {gost2012_256, {CryptoPro-A, streebog256}}
    assert algorithm[:2] == b"\x30\x1f"
    return tlv(0x30, b"\x02\x01\x00" + algorithm + tlv(0x04, private_key_content))


def test_older_private_key_layouts_load_to_the_same_key(vectors, certificate) -> None:
    raw_le = pem_to_der(vectors.key_path.read_bytes())[-32:]
    wrapped = _pkcs8_with(vectors, tlv(0x04, raw_le))  # OCTET STRING, little-endian
    value = int.from_bytes(raw_le, "little").to_bytes(33, "big")  # INTEGER, big-endian, non-negative
    integer = _pkcs8_with(vectors, tlv(0x02, value))
    for der in (wrapped, integer):
        assert PrivateKey.load(der).public_key() == certificate.public_key


def test_older_private_key_layouts_are_read_as_openssl_reads_them(vectors, certificate, openssl_gost) -> None:
    raw_le = pem_to_der(vectors.key_path.read_bytes())[-32:]
    wrapped = openssl_gost.file(".der", _pkcs8_with(vectors, tlv(0x04, raw_le)))
    done = openssl_gost.run("pkey", "-inform", "DER", "-in", wrapped, "-pubout")
    assert done.returncode == 0, done.stderr.decode()
    assert PublicKey.load(done.stdout) == certificate.public_key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01" * 64, "masked"),
        (tlv(0x04, b"\x01" * 31), "unrecognised"),
        (tlv(0x02, b"\x00"), "out of range"),
    ],
)
def test_unsupported_private_keys_are_refused_clearly(vectors, content: bytes, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        PrivateKey.load(_pkcs8_with(vectors, content))


def test_other_inputs_are_refused_clearly(vectors) -> None:
    with pytest.raises(KeyFormatError, match="expected PRIVATE KEY, found CERTIFICATE"):
        PrivateKey.load(vectors.cert_pem)
    with pytest.raises(KeyFormatError, match="encrypted"):
        PrivateKey.load(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n")
    with pytest.raises(KeyFormatError, match="DER"):
        Certificate.load(vectors.cert_der[:-5])
    with pytest.raises(KeyFormatError):
        verify(b"not a certificate", b"x", b"\x01" * 64)


def test_non_gost_keys_and_certificates_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFormatError, match=r"not GOST R 34\.10-2012 256 bit"):
        PrivateKey.load(pkcs8)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not gost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(KeyFormatError, match=r"not GOST R 34\.10-2012 256 bit"):
        Certificate.load(cert.public_bytes(serialization.Encoding.PEM))


def test_public_key_loads_from_openssl_pubkey_output(certificate, vectors, openssl_gost) -> None:
    assert PublicKey.load(openssl_gost.public_key_of(vectors.cert_pem_path)) == certificate.public_key
