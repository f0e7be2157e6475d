"""What the schedule adds to notifications: the morning-brief section and appointment reminders.

Both go through the outbox with ids, times and counts only (the outbox is not encrypted).
Importing this module registers the brief section.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.reminders import BRIEF_SECTIONS, BriefLine
from services.schedule.change_requests import CHANGE_REQUEST, is_same_day, request_payload
from services.schedule.service import local_day_bounds
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.models.notification import ROUTINE, URGENT
from storage.models.notification_preferences import SHORT_APPOINTMENT_MINUTES
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminder_targets import ReminderTargetRepository, Target
from storage.repositories.schedule import AppointmentRepository

SECTION = "schedule"
REMINDER = "appointment_reminder"
SHORT = timedelta(minutes=SHORT_APPOINTMENT_MINUTES)


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
    windows = {c.id: (local_day_bounds(today, c.timezone), c.timezone) for c in await ClinicRepository(session).by_ids(clinic_ids)}
    low = min(start for (start, _), _ in windows.values())
    high = max(end for (_, end), _ in windows.values())
    # One read for the doctor's clinics, each counted within its own local day.
    rows = await repository.in_period(low, high, doctor_id=target.doctor_id, clinic_ids=list(windows), active_only=True)
    for row in rows:
        (start, end), timezone = windows[row.clinic_id]
        if not start <= row.starts_at < end:
            continue
        count += 1
        if first is None or row.starts_at < first[0]:
            first = (row.starts_at, timezone)
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
    """Queue a reminder for every booked appointment starting within the doctor's lead time
    (appointments shorter than 20 minutes only when the doctor switched those on).

    Idempotent: the key holds the appointment and its start, so a scan run twice queues nothing
    twice, and a moved appointment is reminded of again at its new time.
    """
    session = uow.session
    targets = {
        t.doctor_id: t
        for t in await ReminderTargetRepository(session).active_doctors()
        if REMINDER not in t.disabled_kinds and t.reminder_lead_minutes > 0
    }
    if not targets:
        return 0
    # One query for every doctor: the booked appointments within the longest lead time, with
    # their clinics; each doctor's own lead is applied below.
    longest = timedelta(minutes=max(t.reminder_lead_minutes for t in targets.values()))
    rows = await AppointmentRepository(session).booked_starting(now, now + longest, doctor_ids=list(targets))
    outbox = OutboxRepository(session)
    queued = 0
    for appointment, clinic in rows:
        target = targets[appointment.doctor_id]
        if appointment.starts_at >= now + timedelta(minutes=target.reminder_lead_minutes):
            continue
        if appointment.ends_at - appointment.starts_at < SHORT and not target.remind_short_appointments:
            continue  # short slots follow each other too fast for a reminder each, unless asked
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


REQUEST_REMINDER_AFTER = timedelta(hours=2)
URGENT_REQUEST_REMINDER_AFTER = timedelta(minutes=30)


async def change_request_reminders(uow: UnitOfWork, now: datetime) -> int:
    """Remind the doctor, once, of a change request still pending after 2 hours (30 minutes when
    it concerns today). Idempotent: the de-duplication key names the request, so a second scan
    (or a second process) queues nothing; a request decided or expired meanwhile is not reminded of.
    """
    session = uow.session
    targets = {t.doctor_id: t for t in await ReminderTargetRepository(session).active_doctors()}
    outbox = OutboxRepository(session)
    queued = 0
    # Requests already reminded of are left out by the query, not re-tried every scan.
    rows = await ChangeRequestRepository(session).pending_since(
        now - URGENT_REQUEST_REMINDER_AFTER, now, without_notification=(f"{CHANGE_REQUEST}:", ":reminder")
    )
    for request, appointment, clinic in rows:
        target = targets.get(request.doctor_id)
        if target is None or CHANGE_REQUEST in target.disabled_kinds:
            continue
        urgent = is_same_day(request, appointment.starts_at, clinic.timezone, now)
        if not urgent and request.created_at > now - REQUEST_REMINDER_AFTER:
            continue
        created = await outbox.enqueue(
            target.chat_id,
            CHANGE_REQUEST,
            f"{CHANGE_REQUEST}:{request.id}:reminder",
            now,
            urgency=URGENT if urgent else ROUTINE,
            doctor_id=request.doctor_id,
            payload={**request_payload(request, appointment.starts_at, clinic, target.locale), "reminder": True},
        )
        queued += created is not None
    await uow.commit()
    return queued
