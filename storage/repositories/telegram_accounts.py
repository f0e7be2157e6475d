"""Telegram accounts: the user's preferences, and the link to a doctor."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import upsert_insert
from storage.models import DEFAULT_LOCALE, TelegramAccount, utcnow
from storage.repositories._query import one_or_none


class AccountNotFound(LookupError):
    """No Telegram account with this user id (the user never said /start)."""


class TelegramAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, telegram_user_id: int) -> TelegramAccount | None:
        return await self._session.get(TelegramAccount, telegram_user_id)

    async def get_by_doctor(self, doctor_id: int) -> TelegramAccount | None:
        """Where to reach a doctor (one account per doctor)."""
        return await one_or_none(self._session, select(TelegramAccount).where(TelegramAccount.doctor_id == doctor_id))

    async def upsert(self, telegram_user_id: int, chat_id: int) -> TelegramAccount:
        """The account, created if new; no write at all when nothing changed."""
        account = await self.get(telegram_user_id)
        if account is not None:
            if account.chat_id != chat_id:
                account.chat_id = chat_id
                await self._session.flush()
            return account
        # Two first updates from one user may race: ON CONFLICT makes the second a no-op update
        # instead of a unique violation that would cost the user an error message.
        now = utcnow()
        insert = upsert_insert(self._session, TelegramAccount).values(
            telegram_user_id=telegram_user_id,
            chat_id=chat_id,
            locale=DEFAULT_LOCALE,
            created_at=now,
            updated_at=now,
        )
        statement = insert.on_conflict_do_update(
            index_elements=[TelegramAccount.telegram_user_id],
            set_={"chat_id": insert.excluded.chat_id, "updated_at": insert.excluded.updated_at},
        ).returning(TelegramAccount)
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one()

    async def _require(self, telegram_user_id: int) -> TelegramAccount:
        account = await self.get(telegram_user_id)
        if account is None:
            raise AccountNotFound(f"no Telegram account {telegram_user_id}")
        return account

    async def set_locale(self, telegram_user_id: int, locale: str) -> TelegramAccount:
        account = await self._require(telegram_user_id)
        if account.locale != locale:
            account.locale = locale
            await self._session.flush()
        return account

    async def link_doctor(self, telegram_user_id: int, doctor_id: int) -> TelegramAccount:
        """Link the account to a doctor. Flushes, so a doctor already linked to another account
        raises IntegrityError here (one account per doctor); the service decides what to do."""
        account = await self._require(telegram_user_id)
        account.doctor_id = doctor_id
        account.linked_at = utcnow()
        await self._session.flush()
        return account

    async def unlink(self, telegram_user_id: int) -> TelegramAccount:
        account = await self._require(telegram_user_id)
        if account.doctor_id is not None:
            account.doctor_id = None
            account.linked_at = None
            await self._session.flush()
        return account
