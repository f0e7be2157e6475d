"""Document signers: the local per-doctor key (encrypted at rest, made once) and the signing-service
client against its emulator; detached signatures catch any change of the signed bytes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emulators.signing.server import SigningEmulator
from services.signing.documents import LocalKeySigner, ServiceSigner, parse_key_spec, verify_detached
from services.signing.errors import SignerUnavailable
from storage.crypto import FieldCipher, generate_key
from storage.repositories.doctors import DoctorRepository

DATA = b'{"resourceType":"MedicationRequest","status":"active"}'


async def add_doctor(session_maker: async_sessionmaker[AsyncSession], oid: str = "1000700001") -> int:
    async with session_maker() as session:
        doctor = await DoctorRepository(session).add(
            last_name="Иванов", first_name="Сергей", middle_name=None, specialty="Терапия", esia_oid=oid
        )
        await session.commit()
        return doctor.id


async def test_local_key_is_made_once_encrypted_at_rest_and_signatures_verify(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    cipher = FieldCipher({"k1": generate_key()}, "k1")
    signer = LocalKeySigner(cipher)
    doctor_id = await add_doctor(session_maker)
    async with session_maker() as session:
        first = await signer.sign(session, doctor_id, DATA)
        second = await signer.sign(session, doctor_id, DATA + b" ")
        await session.commit()
    assert first.signer == "local" and first.public_key == second.public_key
    assert verify_detached(first.public_key, DATA, first.value_b64)
    assert verify_detached(second.public_key, DATA + b" ", second.value_b64)
    # Any change of the bytes, or of the signature, is detected.
    assert not verify_detached(first.public_key, DATA.replace(b"active", b"draft"), first.value_b64)
    assert not verify_detached(first.public_key, DATA + b"\n", first.value_b64)
    flipped = bytearray(first.value)
    flipped[0] ^= 1
    assert not verify_detached(first.public_key, DATA, base64.b64encode(bytes(flipped)).decode())
    assert not verify_detached("garbage", DATA, first.value_b64)
    async with session_maker() as session:
        rows = (await session.execute(text("SELECT public_key, private_key FROM signing_keys"))).all()
    assert len(rows) == 1
    public_key, private_key = rows[0]
    assert private_key.startswith("v1.k1.") and public_key == first.public_key
    # Another deployment's key cannot read it.
    with pytest.raises(Exception):
        FieldCipher({"k1": generate_key()}, "k1").decrypt(private_key, "signing_keys.private_key")


async def test_two_first_signatures_at_once_leave_one_key(session_maker: async_sessionmaker[AsyncSession]) -> None:
    cipher = FieldCipher({"k1": generate_key()}, "k1")
    doctor_id = await add_doctor(session_maker)

    async def sign_once() -> str:
        async with session_maker() as session:
            signature = await LocalKeySigner(cipher).sign(session, doctor_id, DATA)
            await session.commit()
            return signature.public_key

    keys = await asyncio.gather(sign_once(), sign_once(), return_exceptions=True)
    async with session_maker() as session:
        stored = (await session.execute(text("SELECT public_key FROM signing_keys"))).scalars().all()
    assert len(stored) == 1
    assert stored[0] in [k for k in keys if isinstance(k, str)]


@pytest.fixture
async def signing_service() -> AsyncIterator[SigningEmulator]:
    emulator = SigningEmulator(api_key="test-key")
    await emulator.start()
    yield emulator
    await emulator.stop()


async def test_signing_service_client_against_the_emulator(signing_service: SigningEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        signer = ServiceSigner(signing_service.base_url, http, api_key="test-key")
        first = await signer.sign(None, 7, DATA)  # type: ignore[arg-type]
        second = await signer.sign(None, 7, DATA)  # type: ignore[arg-type]
        other = await signer.sign(None, 8, DATA)  # type: ignore[arg-type]
        assert first.signer == "service" and first.public_key == second.public_key != other.public_key
        assert verify_detached(first.public_key, DATA, first.value_b64)
        assert not verify_detached(first.public_key, DATA + b"x", first.value_b64)
        parse_key_spec(first.public_key)

        signing_service.fail_next("sign", "unavailable")
        with pytest.raises(SignerUnavailable):
            await signer.sign(None, 7, DATA)  # type: ignore[arg-type]
        with pytest.raises(SignerUnavailable):
            await ServiceSigner(signing_service.base_url, http, api_key="wrong").sign(None, 7, DATA)  # type: ignore[arg-type]
        signing_service.fail_next("sign", "slow", delay=2.0)
        with pytest.raises(SignerUnavailable):
            await ServiceSigner(signing_service.base_url, http, api_key="test-key", timeout=0.3).sign(
                None, 7, DATA  # type: ignore[arg-type]
            )
    assert len(signing_service.calls.filter("sign")) == 6
