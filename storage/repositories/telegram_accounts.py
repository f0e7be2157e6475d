"""Telegram accounts: the user's preferences, and the link to a doctor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import upsert_insert
from storage.models import DEFAULT_LOCALE, ClinicRole, TelegramAccount, utcnow
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

    async def mark_unreachable(self, user_or_chat_id: int, at: datetime) -> int:
        """Telegram refused a message with 403 (the user blocked the bot): the account is unreachable
        from ``at``. Takes the chat id the message went to (in a private chat, the user id). An
        account already unreachable keeps its first date. The number of accounts marked now."""
        statement = (
            update(TelegramAccount)
            .where(
                or_(TelegramAccount.telegram_user_id == user_or_chat_id, TelegramAccount.chat_id == user_or_chat_id),
                TelegramAccount.unreachable_since.is_(None),
            )
            .values(unreachable_since=at)
            .returning(TelegramAccount.telegram_user_id)
            .execution_options(synchronize_session="fetch")
        )
        return len((await self._session.execute(statement)).all())

    async def mark_reachable(self, telegram_user_id: int) -> bool:
        """The user wrote to the bot again. True when the account was unreachable; no write otherwise."""
        account = await self.get(telegram_user_id)
        if account is None or account.unreachable_since is None:
            return False
        account.unreachable_since = None
        await self._session.flush()
        return True

    async def unreachable(self, clinic_id: int | None = None) -> Sequence[TelegramAccount]:
        """Linked accounts that blocked the bot (of doctors with a role in ``clinic_id``, when
        given), the longest unreachable first: for the administrator."""
        statement = (
            select(TelegramAccount)
            .where(TelegramAccount.unreachable_since.is_not(None), TelegramAccount.doctor_id.is_not(None))
            .order_by(TelegramAccount.unreachable_since, TelegramAccount.telegram_user_id)
        )
        if clinic_id is not None:
            statement = statement.where(
                exists().where(ClinicRole.doctor_id == TelegramAccount.doctor_id, ClinicRole.clinic_id == clinic_id)
            )
        return (await self._session.scalars(statement)).all()
