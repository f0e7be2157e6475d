"""Signers, cross-checked both ways: our signatures verify in OpenSSL, OpenSSL's verify in ours."""

from __future__ import annotations

import asyncio
import secrets
import shutil

import pytest

from services.signing import (
    GostcryptoSigner,
    KeyMismatchError,
    OpenSSLGostSigner,
    PrivateKey,
    PublicKey,
    SignerUnavailable,
    check_signer,
    make_signer,
    openssl_gost_available,
    verify,
)
from services.signing.gost import PARAMSETS

MESSAGE = "MEDCAB01openid fullname snils2026.11.25 12:00:00 +0300state-Ж".encode()

# OpenSSL's names for the 256-bit parameter sets, and the OIDs it writes for them.
OPENSSL_PARAMSETS = {
    "A": "1.2.643.2.2.35.1",
    "B": "1.2.643.2.2.35.2",
    "C": "1.2.643.2.2.35.3",
    "XA": "1.2.643.2.2.36.0",
    "XB": "1.2.643.2.2.36.1",
    "TCA": "1.2.643.7.1.2.1.1.1",
    "TCB": "1.2.643.7.1.2.1.1.2",
    "TCC": "1.2.643.7.1.2.1.1.3",
    "TCD": "1.2.643.7.1.2.1.1.4",
}


@pytest.fixture(scope="module")
def openssl_signer(vectors, openssl_gost) -> OpenSSLGostSigner:
    return OpenSSLGostSigner(vectors.key_path, vectors.cert_der_path, openssl_conf=openssl_gost.conf)


# --- GostcryptoSigner --------------------------------------------------------------------------


def test_gostcrypto_signer_carries_the_certificate(gostcrypto_signer, vectors) -> None:
    assert gostcrypto_signer.certificate_der == vectors.cert_der
    assert gostcrypto_signer.certificate_hash == vectors.cert_hash


def test_gostcrypto_signatures_are_randomised_and_verify(gostcrypto_signer, certificate) -> None:
    first, second = gostcrypto_signer.sign(MESSAGE), gostcrypto_signer.sign(MESSAGE)
    assert len(first) == len(second) == 64
    assert first != second
    assert verify(certificate, MESSAGE, first) and verify(certificate, MESSAGE, second)
    assert not verify(certificate, MESSAGE + b".", first)


def test_gostcrypto_signature_verifies_in_openssl(gostcrypto_signer, vectors, openssl_gost) -> None:
    public_key = openssl_gost.public_key_of(vectors.cert_pem_path)
    signature = gostcrypto_signer.sign(vectors.message)
    assert openssl_gost.verify(public_key, vectors.message, signature)
    assert not openssl_gost.verify(public_key, vectors.message + b"x", signature)
    assert openssl_gost.verify(public_key, vectors.message, vectors.signature)  # the harness itself


def test_gostcrypto_signer_from_bytes(vectors, certificate) -> None:
    signer = GostcryptoSigner.from_bytes(vectors.key_path.read_bytes(), vectors.cert_der)
    assert verify(certificate, MESSAGE, signer.sign(MESSAGE))


def test_a_key_that_is_not_the_certificates_is_refused(certificate) -> None:
    other = PrivateKey(certificate.public_key.paramset_oid, secrets.randbelow(2**250) + 1)
    with pytest.raises(KeyMismatchError):
        GostcryptoSigner(other, certificate)


async def test_gostcrypto_sign_async_leaves_the_event_loop_running(gostcrypto_signer, certificate) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        signatures = await asyncio.gather(*(gostcrypto_signer.sign_async(MESSAGE) for _ in range(3)))
    finally:
        task.cancel()
    assert all(verify(certificate, MESSAGE, s) for s in signatures)
    assert ticks > 0  # a blocking sign would have starved the ticker for ~120 ms


# --- OpenSSLGostSigner -------------------------------------------------------------------------


def test_openssl_signature_verifies_in_ours(openssl_signer, certificate, vectors) -> None:
    assert openssl_signer.certificate_hash == vectors.cert_hash
    first, second = openssl_signer.sign(MESSAGE), openssl_signer.sign(MESSAGE)
    assert first != second
    assert verify(certificate, MESSAGE, first) and verify(certificate, MESSAGE, second)


async def test_openssl_sign_async_verifies_in_ours(openssl_signer, certificate) -> None:
    signatures = await asyncio.gather(openssl_signer.sign_async(MESSAGE), openssl_signer.sign_async(b""))
    assert verify(certificate, MESSAGE, signatures[0])
    assert verify(certificate, b"", signatures[1])


def test_check_signer_passes_for_both(gostcrypto_signer, openssl_signer) -> None:
    check_signer(gostcrypto_signer)
    check_signer(openssl_signer)


def _without_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    # Where OpenSSL looks for engines: nowhere, so the config's gost engine cannot load.
    monkeypatch.setenv("OPENSSL_ENGINES", "/nonexistent")


def test_missing_engine_is_a_clear_error(monkeypatch, vectors, openssl_conf) -> None:
    _without_engine(monkeypatch)
    assert not openssl_gost_available(openssl_conf)
    signer = OpenSSLGostSigner(vectors.key_path, vectors.cert_der_path, openssl_conf=openssl_conf)
    with pytest.raises(SignerUnavailable, match="libengine-gost-openssl"):
        signer.sign(MESSAGE)


async def test_missing_engine_is_a_clear_error_async(monkeypatch, vectors, openssl_conf) -> None:
    _without_engine(monkeypatch)
    signer = OpenSSLGostSigner(vectors.key_path, vectors.cert_der_path, openssl_conf=openssl_conf)
    with pytest.raises(SignerUnavailable, match="libengine-gost-openssl"):
        await signer.sign_async(MESSAGE)


def test_missing_openssl_command_is_a_clear_error(vectors) -> None:
    with pytest.raises(SignerUnavailable, match="not found on PATH"):
        OpenSSLGostSigner(vectors.key_path, vectors.cert_der_path, openssl="openssl-that-does-not-exist")


# --- every 256-bit parameter set, both directions ----------------------------------------------


@pytest.mark.parametrize("paramset", list(OPENSSL_PARAMSETS))
def test_each_parameter_set_interoperates_with_openssl(paramset: str, openssl_gost) -> None:
    key_path = openssl_gost.genkey(paramset)
    key = PrivateKey.from_file(key_path)
    assert key.paramset_oid == OPENSSL_PARAMSETS[paramset] and key.paramset_oid in PARAMSETS
    public_pem = openssl_gost.public_key_of(key_path)
    assert PublicKey.load(public_pem) == key.public_key()
    assert openssl_gost.verify(public_pem, MESSAGE, key.sign(MESSAGE))
    assert key.public_key().verify(MESSAGE, openssl_gost.sign(key_path, MESSAGE))


# --- factory -----------------------------------------------------------------------------------


def test_make_signer_gostcrypto(vectors, certificate) -> None:
    signer = make_signer("gostcrypto", vectors.key_path, vectors.cert_pem_path)
    assert isinstance(signer, GostcryptoSigner)
    assert verify(certificate, MESSAGE, signer.sign(MESSAGE))


def test_make_signer_openssl(vectors, certificate, openssl_gost) -> None:
    signer = make_signer("openssl", vectors.key_path, vectors.cert_pem_path, openssl_conf=openssl_gost.conf)
    assert isinstance(signer, OpenSSLGostSigner)
    assert verify(certificate, MESSAGE, signer.sign(MESSAGE))


def test_make_signer_refuses_an_unknown_kind(vectors) -> None:
    with pytest.raises(ValueError, match="unknown signer kind"):
        make_signer("cryptopro", vectors.key_path, vectors.cert_pem_path)  # type: ignore[arg-type]
