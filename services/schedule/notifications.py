"""What the schedule adds to notifications: the morning-brief section and appointment reminders.

Both go through the outbox with ids, times and counts only (the outbox is not encrypted).
Importing this module registers the brief section.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.reminders import BRIEF_SECTIONS, BriefLine
from services.schedule.service import local_day_bounds
from services.uow import UnitOfWork
from storage.models.appointment import BOOKED
from storage.models.clinic_role import Role
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.notification_preferences import NotificationPreferencesRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminder_targets import ReminderTargetRepository, Target
from storage.repositories.schedule import AppointmentRepository

SECTION = "schedule"
REMINDER = "appointment_reminder"


async def schedule_section(uow: UnitOfWork, target: Target, today: date) -> list[BriefLine]:
    """Today's appointments (count, first start) and pending confirmations."""
    session = uow.session
    grants = await ClinicRoleRepository(session).roles_of(target.doctor_id)
    clinic_ids = {g.clinic_id for g in grants if g.role == Role.DOCTOR}
    if not clinic_ids:
        return []
    repository = AppointmentRepository(session)
    count = 0
    first: tuple[datetime, str] | None = None
    for clinic in await ClinicRepository(session).by_ids(clinic_ids):
        start, end = local_day_bounds(today, clinic.timezone)
        rows = await repository.in_period(start, end, doctor_id=target.doctor_id, clinic_ids=[clinic.id], active_only=True)
        count += len(rows)
        if rows and (first is None or rows[0].starts_at < first[0]):
            first = (rows[0].starts_at, clinic.timezone)
    pending = await ChangeRequestRepository(session).pending_count(target.doctor_id, datetime.now(UTC))
    return [
        BriefLine(
            SECTION,
            {
                "count": count,
                "first_at": first[0].isoformat() if first else None,
                "timezone": first[1] if first else None,
                "pending": pending,
            },
        )
    ]


BRIEF_SECTIONS[SECTION] = schedule_section


async def appointment_reminders(uow: UnitOfWork, now: datetime) -> int:
    """Queue a reminder for every booked appointment starting within the doctor's lead time.

    Idempotent: the key holds the appointment and its start, so a scan run twice queues nothing
    twice, and a moved appointment is reminded of again at its new time.
    """
    session = uow.session
    outbox = OutboxRepository(session)
    preferences = NotificationPreferencesRepository(session)
    repository = AppointmentRepository(session)
    queued = 0
    for target in await ReminderTargetRepository(session).active_doctors():
        if REMINDER in target.disabled_kinds:
            continue
        lead = (await preferences.get_or_default(target.doctor_id)).reminder_lead_minutes
        if lead <= 0:
            continue
        rows = await repository.in_period(now, now + timedelta(minutes=lead), doctor_id=target.doctor_id)
        clinics = {c.id: c for c in await ClinicRepository(session).by_ids({a.clinic_id for a in rows})}
        for appointment in rows:
            if appointment.status != BOOKED:
                continue
            clinic = clinics[appointment.clinic_id]
            created = await outbox.enqueue(
                target.chat_id,
                REMINDER,
                f"{REMINDER}:{appointment.id}:{appointment.starts_at.isoformat()}",
                now,
                doctor_id=target.doctor_id,
                payload={
                    "appointment_id": appointment.id,
                    "starts_at": appointment.starts_at.isoformat(),
                    "timezone": clinic.timezone,
                    "clinic": clinic.short_name,
                    "locale": target.locale,
                },
            )
            queued += created is not None
    await uow.commit()
    return queued
