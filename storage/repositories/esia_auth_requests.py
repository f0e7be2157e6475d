"""ESIA authorization requests awaiting their callback; the PKCE code verifier encrypted at rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import FieldCipher
from storage.models import EsiaAuthRequest

CODE_VERIFIER_CONTEXT = "esia_auth_requests.code_verifier"
STATE_LENGTH = 36  # a UUID in its canonical spelling


class ClaimedAuthRequest(NamedTuple):
    request: EsiaAuthRequest
    code_verifier: str  # plaintext, in memory only


class EsiaAuthRequestRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def add(
        self,
        state: str,
        telegram_user_id: int,
        chat_id: int,
        code_verifier: str,
        redirect_uri: str,
        expires_at: datetime,
    ) -> EsiaAuthRequest:
        """A new pending request, flushed. Returns the stored row (the verifier in it is ciphertext)."""
        if not state or len(state) > STATE_LENGTH:
            raise ValueError(f"state must be 1-{STATE_LENGTH} characters (a UUID)")
        request = EsiaAuthRequest(
            state=state,
            telegram_user_id=telegram_user_id,
            chat_id=chat_id,
            code_verifier=self._cipher.encrypt(code_verifier, CODE_VERIFIER_CONTEXT),
            redirect_uri=redirect_uri,
            expires_at=expires_at,
        )
        self._session.add(request)
        await self._session.flush()
        return request

    async def claim(self, state: str, now: datetime) -> ClaimedAuthRequest | None:
        """Mark the request used and return it with its code verifier decrypted; None when the state
        is unknown, already used or expired. Single-use under concurrency (one conditional UPDATE)."""
        statement = (
            update(EsiaAuthRequest)
            .where(EsiaAuthRequest.state == state, EsiaAuthRequest.used_at.is_(None), EsiaAuthRequest.expires_at > now)
            .values(used_at=now)
            .returning(EsiaAuthRequest)
        )
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        request = result.one_or_none()
        if request is None:
            return None
        return ClaimedAuthRequest(request, self._cipher.decrypt(request.code_verifier, CODE_VERIFIER_CONTEXT))

    async def purge_expired(self, now: datetime) -> int:
        """Delete the requests expired at ``now`` (used or not); the number deleted."""
        result = await self._session.execute(delete(EsiaAuthRequest).where(EsiaAuthRequest.expires_at <= now))
        return cast("CursorResult[Any]", result).rowcount
