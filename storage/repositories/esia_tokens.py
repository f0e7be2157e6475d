"""The doctor's ESIA access token, encrypted at rest; one per doctor."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import FieldCipher
from storage.dialects import upsert_insert
from storage.models import EsiaToken, utcnow

ACCESS_TOKEN_CONTEXT = "esia_tokens.access_token"  # noqa: S105 (an encryption context, not a secret)


class EsiaAccess(NamedTuple):
    access_token: str  # plaintext, in memory only
    expires_at: datetime


class EsiaTokenRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def save(self, doctor_id: int, access_token: str, sid: str | None, expires_at: datetime) -> EsiaToken:
        """Store the doctor's token, replacing the previous one. Returns the stored (encrypted) row."""
        insert = upsert_insert(self._session, EsiaToken).values(
            doctor_id=doctor_id,
            access_token=self._cipher.encrypt(access_token, ACCESS_TOKEN_CONTEXT),
            id_token_sid=sid,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        statement = insert.on_conflict_do_update(
            index_elements=[EsiaToken.doctor_id],
            set_={
                "access_token": insert.excluded.access_token,
                "id_token_sid": insert.excluded.id_token_sid,
                "expires_at": insert.excluded.expires_at,
                "created_at": insert.excluded.created_at,
            },
        ).returning(EsiaToken)
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one()

    async def row(self, doctor_id: int) -> EsiaToken | None:
        """The stored row (ciphertext token, ``id_token_sid``)."""
        return await self._session.get(EsiaToken, doctor_id)

    async def get(self, doctor_id: int) -> EsiaAccess | None:
        """The token decrypted, with its expiry (which the caller checks)."""
        token = await self.row(doctor_id)
        if token is None:
            return None
        return EsiaAccess(self._cipher.decrypt(token.access_token, ACCESS_TOKEN_CONTEXT), token.expires_at)

    async def delete(self, doctor_id: int) -> bool:
        """True when there was a token."""
        deleted = await self._session.scalars(
            delete(EsiaToken).where(EsiaToken.doctor_id == doctor_id).returning(EsiaToken.doctor_id)
        )
        return deleted.first() is not None
