"""Fixtures of the signing tests: the OpenSSL-made ESIA vectors and an ``openssl`` + gost engine
driver for cross-checks.

Tests that need the gost engine take ``openssl_gost``: it skips with the install hint when the
engine is missing, and fails instead under ``MEDCAB_TEST_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.signing import Certificate, GostcryptoSigner, openssl_gost_available

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "esia"
ENGINE_HINT = "OpenSSL gost engine not available: apt-get install libengine-gost-openssl"


@dataclass(frozen=True)
class Vectors:
    dir: Path
    key_path: Path
    cert_pem_path: Path
    cert_der_path: Path
    cert_der: bytes
    cert_pem: bytes
    cert_hash: str
    message: bytes
    signature: bytes
    client_secret: str


@pytest.fixture(scope="session")
def vectors() -> Vectors:
    return Vectors(
        dir=FIXTURES,
        key_path=FIXTURES / "client.key",
        cert_pem_path=FIXTURES / "client.pem",
        cert_der_path=FIXTURES / "client.der",
        cert_der=(FIXTURES / "client.der").read_bytes(),
        cert_pem=(FIXTURES / "client.pem").read_bytes(),
        cert_hash=(FIXTURES / "cert_hash.txt").read_text().strip(),
        message=(FIXTURES / "message.txt").read_bytes(),
        signature=(FIXTURES / "signature.bin").read_bytes(),
        client_secret=(FIXTURES / "client_secret.txt").read_text().strip(),
    )


@pytest.fixture(scope="session")
def certificate(vectors: Vectors) -> Certificate:
    return Certificate.load(vectors.cert_der)


@pytest.fixture(scope="session")
def gostcrypto_signer(vectors: Vectors) -> GostcryptoSigner:
    return GostcryptoSigner.from_files(vectors.key_path, vectors.cert_pem_path)


@pytest.fixture(scope="session")
def openssl_conf() -> Path:
    return FIXTURES / "openssl-gost.cnf"


class OpenSSLGost:
    """The ``openssl`` command with the gost engine, as the independent implementation."""

    def __init__(self, conf: Path, workdir: Path) -> None:
        self.conf = conf
        self.workdir = workdir
        self._count = 0

    def run(self, *args: str | Path, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["openssl", *map(str, args)],
            input=input,
            capture_output=True,
            env={**os.environ, "OPENSSL_CONF": str(self.conf)},
            check=False,
        )

    def file(self, suffix: str, content: bytes) -> Path:
        self._count += 1
        path = self.workdir / f"f{self._count}{suffix}"
        path.write_bytes(content)
        return path

    def public_key_of(self, cert_or_key: Path) -> bytes:
        """PEM SubjectPublicKeyInfo of a certificate (.pem) or a private key (.key)."""
        if cert_or_key.suffix == ".key":
            done = self.run("pkey", "-in", cert_or_key, "-pubout")
        else:
            done = self.run("x509", "-in", cert_or_key, "-pubkey", "-noout")
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def verify(self, public_key_pem: bytes, data: bytes, signature: bytes) -> bool:
        done = self.run(
            "dgst",
            "-md_gost12_256",
            "-verify",
            self.file(".pub", public_key_pem),
            "-signature",
            self.file(".sig", signature),
            self.file(".msg", data),
        )
        return done.returncode == 0 and b"Verified OK" in done.stdout

    def sign(self, key: Path, data: bytes) -> bytes:
        done = self.run("dgst", "-md_gost12_256", "-sign", key, input=data)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def genkey(self, paramset: str) -> Path:
        path = self.workdir / f"key-{paramset}.key"
        done = self.run("genpkey", "-algorithm", "gost2012_256", "-pkeyopt", f"paramset:{paramset}", "-out", path)
        assert done.returncode == 0, done.stderr.decode()
        return path


@pytest.fixture(scope="session")
def openssl_gost(
    require_services: Any,  # the root conftest's skip-or-fail gate
    openssl_conf: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> OpenSSLGost:
    if not openssl_gost_available(openssl_conf):
        require_services.missing(ENGINE_HINT)
    return OpenSSLGost(openssl_conf, tmp_path_factory.mktemp("openssl-gost"))
