"""Signing medical documents: detached GOST R 34.10-2012 signatures over the exact stored bytes.

Two signers with one interface: ``LocalKeySigner`` (development and the demo: one key per doctor,
generated on first use, the private part encrypted at rest and never leaving the server) and
``ServiceSigner`` (production: a REST signing service makes the qualified signature, the bot never
holds the key). Either way the result carries the public key, so verification needs nothing but
the stored row.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from services.signing.errors import KeyFormatError, SignerUnavailable
from services.signing.gost import SIZE, PrivateKey, PublicKey
from storage.crypto import FieldCipher
from storage.repositories.signing_keys import SigningKeyRepository

KEY_PREFIX = "gost2012-256"


def key_spec(public_key: PublicKey) -> str:
    """``gost2012-256;<paramset>;<hex x‖y little-endian>``: the public key as one storable string."""
    point = public_key.x.to_bytes(SIZE, "little") + public_key.y.to_bytes(SIZE, "little")
    return f"{KEY_PREFIX};{public_key.paramset_oid};{point.hex()}"


def parse_key_spec(spec: str) -> PublicKey:
    try:
        prefix, paramset, point_hex = spec.split(";")
        point = bytes.fromhex(point_hex)
    except ValueError:
        raise KeyFormatError("malformed public key spec") from None
    if prefix != KEY_PREFIX or len(point) != 2 * SIZE:
        raise KeyFormatError("malformed public key spec")
    return PublicKey(paramset, int.from_bytes(point[:SIZE], "little"), int.from_bytes(point[SIZE:], "little"))


@dataclass(frozen=True)
class DetachedSignature:
    signer: str  # "local" | "service"
    public_key: str  # key_spec()
    value: bytes  # 64 bytes, s ‖ r

    @property
    def value_b64(self) -> str:
        return base64.b64encode(self.value).decode("ascii")


def verify_detached(public_key: str, data: bytes, signature_b64: str) -> bool:
    """Does the stored signature still match the stored bytes? False on any malformed part."""
    try:
        key = parse_key_spec(public_key)
        signature = base64.b64decode(signature_b64, validate=True)
    except (KeyFormatError, ValueError):
        return False
    try:
        return key.verify(data, signature)
    except (KeyError, ValueError):
        return False


class DocumentSigner(Protocol):
    kind: str

    async def sign(self, session: AsyncSession, doctor_id: int, data: bytes) -> DetachedSignature:
        """A detached signature of ``data`` by the doctor (``session`` is the caller's transaction)."""
        ...


class LocalKeySigner:
    """One GOST key per doctor, created on first use; pure Python, not certified crypto."""

    kind = "local"

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    async def sign(self, session: AsyncSession, doctor_id: int, data: bytes) -> DetachedSignature:
        repository = SigningKeyRepository(session, self._cipher)
        stored = await repository.get(doctor_id)
        if stored is None:
            key = PrivateKey.generate()
            stored = await repository.add(doctor_id, key_spec(key.public_key()), key.export_scalar())
        public = parse_key_spec(stored.public_key)
        private = PrivateKey(public.paramset_oid, int.from_bytes(stored.private_scalar, "big"))
        # Signing costs tens of milliseconds of pure Python: keep the event loop responsive.
        value = await asyncio.to_thread(private.sign, data)
        return DetachedSignature(self.kind, stored.public_key, value)


class ServiceSigner:
    """A REST signing service (``POST {base}/api/v1/sign``): the key stays with the service.

    The service is sent the exact bytes (a qualified signature is made over what the signer was
    shown); its answer is verified here before the document is called signed.
    """

    kind = "service"

    def __init__(self, base_url: str, http: aiohttp.ClientSession, api_key: str = "", timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def sign(self, session: AsyncSession, doctor_id: int, data: bytes) -> DetachedSignature:
        body = {"subject": f"doctor-{doctor_id}", "data": base64.b64encode(data).decode("ascii")}
        headers = {"X-API-Key": self._api_key} if self._api_key else {}
        try:
            async with self._http.post(
                f"{self._base}/api/v1/sign", json=body, headers=headers, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise SignerUnavailable(f"signing service answered HTTP {response.status}")
                answer = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SignerUnavailable(f"signing service unreachable: {type(exc).__name__}") from None
        try:
            public = PublicKey.load(str(answer["public_key"]).encode("ascii"))
            value = base64.b64decode(str(answer["signature"]), validate=True)
        except (KeyError, ValueError, KeyFormatError):
            raise SignerUnavailable("signing service sent a malformed answer") from None
        spec = key_spec(public)
        # A service that signs the wrong bytes must not produce a "signed" document.
        if not public.verify(data, value):
            raise SignerUnavailable("signing service's signature does not verify")
        return DetachedSignature(self.kind, spec, value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
