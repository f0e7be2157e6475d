"""Which doctors of an administrator's clinics blocked the bot (and so miss every notification)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.identity.access import AccessService
from services.names import short_name
from services.notifications.unreachable import notify_admins
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository


@dataclass(frozen=True, slots=True)
class UnreachableDoctor:
    name: str
    specialty: str | None
    since: datetime


class ReachabilityService:
    def __init__(self, uow: UnitOfWork, access: AccessService) -> None:
        self._uow = uow
        self._access = access

    async def unreachable(self, telegram_user_id: int) -> list[UnreachableDoctor]:
        """Doctors of the administrator's clinics who blocked the bot, the longest first."""
        context = await self._access.require(telegram_user_id, Role.ADMIN, "unreachable_view")
        session = self._uow.session
        clinics = {r.clinic_id for r in await ClinicRoleRepository(session).roles_of(context.doctor_id) if r.role == Role.ADMIN}
        accounts = TelegramAccountRepository(session)
        doctors = DoctorRepository(session)
        seen: dict[int, UnreachableDoctor] = {}
        for clinic_id in sorted(clinics):
            for account in await accounts.unreachable(clinic_id):
                if account.doctor_id is None or account.doctor_id in seen or account.unreachable_since is None:
                    continue
                doctor = await doctors.get(account.doctor_id)
                if doctor is not None:
                    seen[doctor.id] = UnreachableDoctor(short_name(doctor.last_name, doctor.first_name, doctor.middle_name), doctor.specialty, account.unreachable_since)
        return sorted(seen.values(), key=lambda d: d.since)

    async def blocked(self, telegram_user_id: int, chat_id: int, at: datetime | None = None) -> bool:
        """Telegram said the user blocked the bot (``my_chat_member`` → kicked): stop queueing to
        them and tell the administrators now, not at the next failed send. True if newly marked."""
        moment = at or datetime.now(UTC)
        session = self._uow.session
        marked = await TelegramAccountRepository(session).mark_unreachable(telegram_user_id, moment) > 0
        if marked:
            await notify_admins(session, chat_id, moment)
            await self._uow.commit()
        return marked

    async def unblocked(self, telegram_user_id: int) -> bool:
        """The user restarted the bot: deliveries to them resume. True if they were unreachable."""
        resumed = await TelegramAccountRepository(self._uow.session).mark_reachable(telegram_user_id)
        if resumed:
            await self._uow.commit()
        return resumed
