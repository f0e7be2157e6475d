"""Per-doctor local signing keys: the private scalar encrypted on the way in, decrypted on use."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import FieldCipher
from storage.models import SigningKey

_CONTEXT = "signing_keys.private_key"


@dataclass(frozen=True, slots=True)
class StoredKey:
    doctor_id: int
    public_key: str
    private_scalar: bytes  # decrypted: lives only in memory, for one signature


class SigningKeyRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def get(self, doctor_id: int) -> StoredKey | None:
        row = await self._session.scalar(select(SigningKey).where(SigningKey.doctor_id == doctor_id))
        if row is None:
            return None
        return StoredKey(row.doctor_id, row.public_key, bytes.fromhex(self._cipher.decrypt(row.private_key, _CONTEXT)))

    async def add(self, doctor_id: int, public_key: str, private_scalar: bytes) -> StoredKey:
        """Store a new key; if another update stored one first, that one wins and is returned."""
        token = self._cipher.encrypt(private_scalar.hex(), _CONTEXT)
        try:
            async with self._session.begin_nested():
                self._session.add(SigningKey(doctor_id=doctor_id, public_key=public_key, private_key=token))
        except IntegrityError:
            existing = await self.get(doctor_id)
            assert existing is not None
            return existing
        return StoredKey(doctor_id, public_key, private_scalar)
