"""Announcements: an administrator's message to many doctors, and who receives it."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import PERSONAL_DATA, Announcement, ClinicRole, Consent, Doctor, DoctorPosition, TelegramAccount

_SPACES = re.compile(r"\s+")


def specialty_key(specialty: str) -> str:
    """How specialties are compared: case-insensitively (Cyrillic too), ё as е, spaces collapsed.

    In Python rather than SQL: SQLite's lower() knows only ASCII, and PostgreSQL's depends on the
    database's locale.
    """
    return _SPACES.sub(" ", specialty.casefold().replace("ё", "е")).strip()


class AnnouncementNotFound(LookupError):
    """No announcement with this id."""


class AnnouncementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, author_doctor_id: int | None, text: str, clinic_id: int | None, specialty: str | None, total: int
    ) -> Announcement:
        """A new announcement, flushed (id assigned)."""
        if total < 0:
            raise ValueError("total must not be negative")
        announcement = Announcement(
            author_doctor_id=author_doctor_id, text=text, clinic_id=clinic_id, specialty=specialty, total=total
        )
        self._session.add(announcement)
        await self._session.flush()
        return announcement

    async def get(self, announcement_id: int) -> Announcement | None:
        return await self._session.get(Announcement, announcement_id)

    async def _require(self, announcement_id: int) -> Announcement:
        announcement = await self.get(announcement_id)
        if announcement is None:
            raise AnnouncementNotFound(f"no announcement {announcement_id}")
        return announcement

    async def set_total(self, announcement_id: int, total: int) -> Announcement:
        """The number of recipients actually enqueued (known only after ``enqueue_many``)."""
        announcement = await self._require(announcement_id)
        announcement.total = total
        await self._session.flush()
        return announcement

    async def set_progress_message(self, announcement_id: int, chat_id: int, message_id: int) -> Announcement:
        """Where the author's progress message is (edited as deliveries complete)."""
        announcement = await self._require(announcement_id)
        announcement.progress_chat_id = chat_id
        announcement.progress_message_id = message_id
        await self._session.flush()
        return announcement

    async def finish(self, announcement_id: int, at: datetime) -> bool:
        """Mark it finished; False when it already was (the first finish wins)."""
        announcement = await self._require(announcement_id)
        if announcement.finished_at is not None:
            return False
        announcement.finished_at = at
        await self._session.flush()
        return True

    async def unfinished_ids(self) -> list[int]:
        """Announcements still being delivered (to resume their progress messages after a restart)."""
        statement = select(Announcement.id).where(Announcement.finished_at.is_(None)).order_by(Announcement.id)
        return list((await self._session.scalars(statement)).all())

    async def recipients(
        self, clinic_id: int | None = None, specialty: str | None = None, *, consent_version: str | None = None
    ) -> list[tuple[int, int, str]]:
        """``(chat_id, doctor_id, locale)`` of the doctors an announcement reaches, by doctor id.

        Linked Telegram accounts that are not unreachable, of doctors whose personal-data consent
        is on record (accepted and not declined since; of ``consent_version`` when given), with a
        role in ``clinic_id`` and of ``specialty`` (the doctor's own or one of their positions',
        compared by ``specialty_key``) when those are given.
        """
        accepted = aliased(Consent)
        declined = aliased(Consent)
        consent = [
            accepted.doctor_id == TelegramAccount.doctor_id,
            accepted.kind == PERSONAL_DATA,
            accepted.accepted_at.is_not(None),
            ~exists().where(
                declined.doctor_id == accepted.doctor_id,
                declined.kind == PERSONAL_DATA,
                declined.declined_at > accepted.accepted_at,
            ),
        ]
        if consent_version is not None:
            consent.append(accepted.version == consent_version)
        statement = (
            select(TelegramAccount.chat_id, TelegramAccount.doctor_id, Doctor.specialty, TelegramAccount.locale)
            .join(Doctor, Doctor.id == TelegramAccount.doctor_id)
            .where(TelegramAccount.unreachable_since.is_(None), exists().where(and_(*consent)))
            .order_by(TelegramAccount.doctor_id)
        )
        if clinic_id is not None:
            statement = statement.where(
                exists().where(ClinicRole.doctor_id == TelegramAccount.doctor_id, ClinicRole.clinic_id == clinic_id)
            )
        # doctor_id is never None here (inner join on it).
        rows = [
            (chat_id, doctor_id, own, locale)
            for chat_id, doctor_id, own, locale in (await self._session.execute(statement)).tuples()
            if doctor_id is not None
        ]
        if specialty is None:
            return [(chat_id, doctor_id, locale) for chat_id, doctor_id, _, locale in rows]

        wanted = specialty_key(specialty)
        matching = {doctor_id for _, doctor_id, own, _ in rows if own is not None and specialty_key(own) == wanted}
        positions = await self._session.execute(
            select(DoctorPosition.doctor_id, DoctorPosition.specialty)
            .join(TelegramAccount, TelegramAccount.doctor_id == DoctorPosition.doctor_id)
            .where(DoctorPosition.specialty.is_not(None), TelegramAccount.unreachable_since.is_(None))
        )
        by_doctor: defaultdict[int, set[str]] = defaultdict(set)
        for doctor_id, position_specialty in positions.tuples():
            if position_specialty is not None:
                by_doctor[doctor_id].add(specialty_key(position_specialty))
        matching |= {doctor_id for doctor_id, keys in by_doctor.items() if wanted in keys}
        return [(chat_id, doctor_id, locale) for chat_id, doctor_id, _, locale in rows if doctor_id in matching]

    async def specialties(self, clinic_id: int | None = None) -> list[str]:
        """The specialties an announcement can be narrowed to: of reachable linked doctors (their
        own and their positions'), in ``clinic_id`` when given; one spelling per ``specialty_key``,
        sorted."""
        reachable: list[ColumnElement[bool]] = [
            TelegramAccount.unreachable_since.is_(None),
            TelegramAccount.doctor_id.is_not(None),
        ]
        if clinic_id is not None:
            reachable.append(
                exists().where(ClinicRole.doctor_id == TelegramAccount.doctor_id, ClinicRole.clinic_id == clinic_id)
            )
        own = (
            select(Doctor.specialty)
            .join(TelegramAccount, TelegramAccount.doctor_id == Doctor.id)
            .where(Doctor.specialty.is_not(None), *reachable)
        )
        positions = (
            select(DoctorPosition.specialty)
            .join(TelegramAccount, TelegramAccount.doctor_id == DoctorPosition.doctor_id)
            .where(DoctorPosition.specialty.is_not(None), *reachable)
        )
        found: dict[str, str] = {}
        for statement in (own, positions):
            for value in (await self._session.scalars(statement)).all():
                if value:
                    found.setdefault(specialty_key(value), value.strip())
        return sorted(found.values(), key=specialty_key)
