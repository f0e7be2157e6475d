"""Signing through the ``openssl`` command and its gost engine (Debian: libengine-gost-openssl).

The engine is the reference implementation the ESIA byte order was taken from, and the route to
keys kept outside Python. ``openssl dgst -md_gost12_256 -sign KEY`` reads the message on stdin and
writes the raw 64-byte signature (``s ‖ r``) on stdout: exactly what ESIA wants, no conversion.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from os import PathLike
from pathlib import Path

from services.signing.errors import SignerUnavailable, SigningError
from services.signing.gost import SIGNATURE_SIZE, Certificate

INSTALL_HINT = "install libengine-gost-openssl and point OPENSSL_CONF at a config that loads the gost engine"


def _environment(openssl_conf: str | PathLike[str] | None) -> dict[str, str]:
    env = dict(os.environ)
    if openssl_conf is not None:
        # Absolute, so the child finds it whatever its working directory.
        env["OPENSSL_CONF"] = str(Path(openssl_conf).resolve())
    return env


def _executable(openssl: str) -> str:
    path = shutil.which(openssl)
    if path is None:
        raise SignerUnavailable(f"{openssl!r} not found on PATH: install OpenSSL and libengine-gost-openssl")
    return path


def _failure(returncode: int, stderr: bytes, openssl_conf: str | None) -> SigningError:
    text = stderr.decode("utf-8", "replace").strip()
    if "md_gost12_256" in text:
        # OpenSSL says "Unknown option or message digest" whether the engine is missing, not
        # configured, or OPENSSL_CONF points nowhere: all three mean the same thing to us.
        return SignerUnavailable(
            f"openssl has no GOST R 34.11-2012 digest (OPENSSL_CONF={openssl_conf}): {INSTALL_HINT}"
        )
    return SigningError(f"openssl dgst -sign failed (exit {returncode}): {text}")


async def _reap(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):  # it may have exited in the meantime
            process.kill()
        await process.wait()


class OpenSSLGostSigner:
    """Signs by running ``openssl dgst -md_gost12_256 -sign``; the key never enters this process."""

    def __init__(
        self,
        key_path: str | PathLike[str],
        cert_path: str | PathLike[str],
        *,
        openssl_conf: str | PathLike[str] | None = None,
        openssl: str = "openssl",
        timeout: float = 10.0,
    ) -> None:
        self.key_path = Path(key_path).resolve()
        if not self.key_path.is_file():
            raise FileNotFoundError(f"private key file not found: {self.key_path}")
        self.certificate = Certificate.from_file(cert_path)
        self._executable = _executable(openssl)
        self._env = _environment(openssl_conf)
        self._conf = self._env.get("OPENSSL_CONF")
        self.timeout = timeout

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.der

    @property
    def certificate_hash(self) -> str:
        return self.certificate.hash

    def _command(self) -> list[str]:
        return [self._executable, "dgst", "-md_gost12_256", "-sign", str(self.key_path)]

    def _result(self, returncode: int, stdout: bytes, stderr: bytes) -> bytes:
        if returncode != 0:
            raise _failure(returncode, stderr, self._conf)
        if len(stdout) != SIGNATURE_SIZE:
            raise SigningError(f"openssl returned {len(stdout)} bytes, expected a {SIGNATURE_SIZE}-byte signature")
        return stdout

    def sign(self, data: bytes) -> bytes:
        try:
            # A fixed argument list, no shell: nothing from the message reaches the command line.
            done = subprocess.run(  # noqa: S603
                self._command(), input=data, capture_output=True, env=self._env, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise SigningError(f"openssl did not sign within {self.timeout} s") from error
        return self._result(done.returncode, done.stdout, done.stderr)

    async def sign_async(self, data: bytes) -> bytes:
        process = await asyncio.create_subprocess_exec(
            *self._command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(data), self.timeout)
        except TimeoutError as error:
            await _reap(process)
            raise SigningError(f"openssl did not sign within {self.timeout} s") from error
        except asyncio.CancelledError:
            await _reap(process)  # a cancelled sign-in must not leave openssl behind
            raise
        assert process.returncode is not None  # communicate() waits for the exit
        return self._result(process.returncode, stdout, stderr)


def openssl_gost_available(openssl_conf: str | PathLike[str] | None = None, openssl: str = "openssl") -> bool:
    """Can ``openssl`` compute Streebog-256 with this configuration (i.e. is the engine loaded)?"""
    path = shutil.which(openssl)
    if path is None:
        return False
    done = subprocess.run(  # noqa: S603  (fixed arguments, no shell)
        [path, "dgst", "-md_gost12_256"], input=b"", capture_output=True, env=_environment(openssl_conf), check=False
    )
    return done.returncode == 0
