"""Announcements from a clinic administrator to doctors, delivered through the outbox.

The rows for every recipient are written in the same transaction as the announcement, so an
announcement is either queued for everyone or for no one; delivery progress is read back from
the outbox for the administrator's live progress message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.identity.access import AccessService
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.repositories.announcements import AnnouncementRepository
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.outbox import OutboxRepository

MAX_TEXT = 3500  # leaves room for the header within Telegram's 4096 characters


@dataclass(frozen=True)
class ClinicChoice:
    clinic_id: int
    short_name: str


@dataclass(frozen=True)
class Progress:
    announcement_id: int
    chat_id: int
    message_id: int
    total: int
    sent: int
    failed: int

    @property
    def done(self) -> bool:
        return self.sent + self.failed >= self.total


def check_text(text: str) -> str:
    value = text.strip()
    if not value:
        raise DomainError(N_("The announcement is empty. Send its text, or /cancel."))
    if len(value) > MAX_TEXT:
        raise DomainError(N_("The announcement is too long: at most {limit} characters."), limit=MAX_TEXT)
    return value


class AnnouncementService:
    def __init__(self, uow: UnitOfWork, access: AccessService) -> None:
        self._uow = uow
        self._access = access

    async def clinics_of(self, telegram_user_id: int) -> list[ClinicChoice]:
        """The clinics where this administrator may announce (an empty list: all doctors only)."""
        context = await self._access.require(telegram_user_id, Role.ADMIN, "announcement")
        session = self._uow.session
        choices = []
        for role in await ClinicRoleRepository(session).roles_of(context.doctor_id):
            if role.role == Role.ADMIN:
                clinic = await ClinicRepository(session).get(role.clinic_id)
                if clinic is not None:
                    choices.append(ClinicChoice(clinic.id, clinic.short_name))
        return choices

    async def specialties(self, telegram_user_id: int, clinic_id: int | None) -> list[str]:
        """Specialties to narrow the announcement to, within the chosen audience."""
        await self._check_clinic(telegram_user_id, clinic_id)
        return await AnnouncementRepository(self._uow.session).specialties(clinic_id)

    async def _check_clinic(self, telegram_user_id: int, clinic_id: int | None) -> None:
        clinics = await self.clinics_of(telegram_user_id)
        if clinic_id is not None and clinic_id not in {c.clinic_id for c in clinics}:
            raise DomainError(N_("You can only send announcements to your own clinics."))

    async def create(
        self, telegram_user_id: int, chat_id: int, text: str, clinic_id: int | None, specialty: str | None
    ) -> tuple[int, int]:
        """Queue the announcement for every matching doctor; (announcement id, recipients)."""
        context = await self._access.require(telegram_user_id, Role.ADMIN, "announcement")
        body = check_text(text)
        await self._check_clinic(telegram_user_id, clinic_id)
        session = self._uow.session
        repo = AnnouncementRepository(session)
        recipients = await repo.recipients(clinic_id=clinic_id, specialty=specialty or None)
        if not recipients:
            raise DomainError(N_("No doctor matches this audience. Choose another one."))
        announcement = await repo.add(context.doctor_id, body, clinic_id, specialty or None, len(recipients))
        now = datetime.now(UTC)
        await OutboxRepository(session).enqueue_many(
            [
                {
                    "chat_id": chat,
                    "doctor_id": doctor_id,
                    "kind": "announcement",
                    "urgency": "routine",
                    "dedup_key": f"announcement:{announcement.id}:{chat}",
                    "due_at": now,
                    # The text travels with each row: rendering needs no database, and an edit
                    # of the announcement later cannot change what was already queued.
                    "payload": {"announcement_id": announcement.id, "text": body, "locale": locale},
                    "announcement_id": announcement.id,
                }
                for chat, doctor_id, locale in recipients
            ]
        )
        await AuditService(self._uow).record(
            doctor_actor(context.doctor_id), "announcement", "announcement", announcement.id, recipients=len(recipients)
        )
        await self._uow.commit()
        return announcement.id, len(recipients)

    async def attach_progress_message(self, announcement_id: int, chat_id: int, message_id: int) -> None:
        await AnnouncementRepository(self._uow.session).set_progress_message(announcement_id, chat_id, message_id)
        await self._uow.commit()

    async def text_of(self, announcement_id: int) -> str | None:
        announcement = await AnnouncementRepository(self._uow.session).get(announcement_id)
        return announcement.text if announcement is not None else None

    async def progress(self, announcement_id: int) -> Progress | None:
        announcement = await AnnouncementRepository(self._uow.session).get(announcement_id)
        if announcement is None or announcement.progress_chat_id is None or announcement.progress_message_id is None:
            return None
        counts = await OutboxRepository(self._uow.session).counts_for_announcement(announcement_id)
        return Progress(
            announcement_id=announcement_id,
            chat_id=announcement.progress_chat_id,
            message_id=announcement.progress_message_id,
            total=announcement.total,
            sent=counts.get("sent", 0),
            failed=counts.get("failed", 0) + counts.get("cancelled", 0),
        )

    async def finish(self, announcement_id: int) -> None:
        await AnnouncementRepository(self._uow.session).finish(announcement_id, datetime.now(UTC))
        await self._uow.commit()

    async def unfinished(self) -> list[int]:
        return await AnnouncementRepository(self._uow.session).unfinished_ids()
