"""Telling clinic administrators that a doctor blocked the bot.

A doctor who blocked the bot silently misses schedule changes and announcements; the clinic's
administrators are the ones who can phone them. The notice is written in the same transaction
that marks the account unreachable, once per doctor, administrator and day.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.names import short_name
from storage.models import Doctor, TelegramAccount
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.outbox import OutboxItem, OutboxRepository

KIND = "doctor_unreachable"


async def notify_admins(session: AsyncSession, chat_id: int, at: datetime) -> int:
    """Queue a notice to the administrators of the clinics of the doctor behind ``chat_id``; the
    number queued (0 for a chat that is not a linked doctor)."""
    doctor = (
        await session.execute(
            select(Doctor).join(TelegramAccount, TelegramAccount.doctor_id == Doctor.id).where(
                TelegramAccount.chat_id == chat_id
            )
        )
    ).scalars().first()
    if doctor is None:
        return 0
    name = short_name(doctor.last_name, doctor.first_name, doctor.middle_name)
    items = [
        OutboxItem(
            admin_chat,
            KIND,
            f"{KIND}:{doctor.id}:{admin_id}:{at.date().isoformat()}",
            at,
            payload={"doctor": name, "specialty": doctor.specialty or "", "since": at.isoformat(), "locale": locale},
            doctor_id=admin_id,
        )
        for admin_id, admin_chat, locale in await ClinicRoleRepository(session).admin_chats_for(doctor.id)
    ]
    return await OutboxRepository(session).enqueue_many(items) if items else 0
