"""Roles of doctors in clinics."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import ClinicRole, Role, TelegramAccount
from storage.repositories._query import one_or_none


class ClinicRoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _find(self, doctor_id: int, clinic_id: int, role: Role) -> ClinicRole | None:
        return await one_or_none(
            self._session,
            select(ClinicRole).where(
                ClinicRole.doctor_id == doctor_id, ClinicRole.clinic_id == clinic_id, ClinicRole.role == role
            ),
        )

    async def grant(self, doctor_id: int, clinic_id: int, role: Role) -> ClinicRole:
        """The grant, created if missing (granting twice is not an error)."""
        existing = await self._find(doctor_id, clinic_id, role)
        if existing is not None:
            return existing
        grant = ClinicRole(doctor_id=doctor_id, clinic_id=clinic_id, role=role)
        self._session.add(grant)
        await self._session.flush()
        return grant

    async def revoke(self, doctor_id: int, clinic_id: int, role: Role) -> bool:
        """True when there was such a grant."""
        deleted = await self._session.scalars(
            delete(ClinicRole)
            .where(ClinicRole.doctor_id == doctor_id, ClinicRole.clinic_id == clinic_id, ClinicRole.role == role)
            .returning(ClinicRole.id)
        )
        return deleted.first() is not None

    async def roles_of(self, doctor_id: int) -> Sequence[ClinicRole]:
        return (
            await self._session.scalars(
                select(ClinicRole)
                .where(ClinicRole.doctor_id == doctor_id)
                .order_by(ClinicRole.clinic_id, ClinicRole.role)
            )
        ).all()

    async def has_role(self, doctor_id: int, clinic_id: int, role: Role) -> bool:
        return await self._find(doctor_id, clinic_id, role) is not None

    async def admin_chats_for(self, doctor_id: int) -> list[tuple[int, int, str]]:
        """``(admin doctor id, chat id, locale)`` of the administrators of every clinic where
        ``doctor_id`` has a role, reachable in Telegram, each once; never the doctor themself."""
        colleague = aliased(ClinicRole)
        statement = (
            select(ClinicRole.doctor_id, TelegramAccount.chat_id, TelegramAccount.locale)
            .join(colleague, colleague.clinic_id == ClinicRole.clinic_id)
            .join(TelegramAccount, TelegramAccount.doctor_id == ClinicRole.doctor_id)
            .where(
                colleague.doctor_id == doctor_id,
                ClinicRole.role == Role.ADMIN,
                ClinicRole.doctor_id != doctor_id,
                TelegramAccount.unreachable_since.is_(None),
            )
            .distinct()
            .order_by(ClinicRole.doctor_id)
        )
        return [(admin, chat, locale) for admin, chat, locale in (await self._session.execute(statement)).tuples()]
