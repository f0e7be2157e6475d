"""Calendar export: an .ics per appointment and a personal feed behind a secret, revocable URL.

Neither carries a patient's name: a calendar app syncs to phones and clouds the clinic does not
control. The feed token is shown once; only its SHA-256 is stored.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from services.audit import AuditService
from services.schedule.access import ScheduleUseCase
from services.uow import UnitOfWork
from storage.models import Appointment
from storage.models.appointment import CANCELLED_APPOINTMENT
from storage.repositories.calendar_feeds import CalendarFeedRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.schedule import AppointmentRepository

PRODID = "-//medcab//schedule//RU"
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=120)
TOKEN_BYTES = 24


# Where the web app serves a personal feed (bot/calendar_feed.py) and the chat shows its link.
FEED_PATH = "/calendar/{token}.ics"


def appointment_event(appointment: Appointment, title: str, location: str) -> Event:
    event = Event()
    event.add("uid", f"appointment-{appointment.id}@medcab")
    event.add("dtstamp", appointment.updated_at)
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", title)
    event.add("location", location)
    # A calendar app replaces an event by UID when SEQUENCE grows: moves and cancellations show.
    event.add("sequence", appointment.version)
    event.add("status", "CANCELLED" if appointment.status == CANCELLED_APPOINTMENT else "CONFIRMED")
    return event


def calendar_of(events: Sequence[Event], name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical())


class CalendarService(ScheduleUseCase):
    async def appointment_ics(self, telegram_user_id: int, appointment_id: int, title: str) -> bytes:
        actor = await self._access.doctor(telegram_user_id, "calendar_export", patient_data=False)
        appointment = await self._access.appointment(actor, appointment_id, "calendar_export")
        clinic = actor.clinics[appointment.clinic_id]
        await AuditService(self._uow).record(actor.actor, "calendar_export", "appointment", appointment_id, "ok")
        await self._uow.commit()
        return calendar_of([appointment_event(appointment, title, clinic.short_name)], title)

    async def create_feed(self, telegram_user_id: int) -> str:
        """A new feed token (any previous one stops working); shown to the doctor once."""
        actor = await self._access.doctor(telegram_user_id, "calendar_feed", patient_data=False)
        feeds = CalendarFeedRepository(self._uow.session)
        await feeds.revoke_all(actor.doctor_id, self._clock())
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await feeds.add(actor.doctor_id, token)
        await AuditService(self._uow).record(actor.actor, "calendar_feed", "calendar_feed", None, "ok", action="created")
        await self._uow.commit()
        return token

    async def revoke_feed(self, telegram_user_id: int) -> bool:
        actor = await self._access.doctor(telegram_user_id, "calendar_feed", patient_data=False)
        revoked = await CalendarFeedRepository(self._uow.session).revoke_all(actor.doctor_id, self._clock())
        await AuditService(self._uow).record(actor.actor, "calendar_feed", "calendar_feed", None, "ok", action="revoked")
        await self._uow.commit()
        return revoked > 0

    async def has_feed(self, telegram_user_id: int) -> bool:
        actor = await self._access.doctor(telegram_user_id, "calendar_feed", patient_data=False)
        return await CalendarFeedRepository(self._uow.session).active(actor.doctor_id)


async def feed_ics(uow: UnitOfWork, token: str, title: str, now: datetime | None = None) -> bytes | None:
    """The feed for a token, or None when it is unknown or revoked (the web route answers 404)."""
    if not token or len(token) > 128:
        return None
    session = uow.session
    doctor_id = await CalendarFeedRepository(session).doctor_of(token)
    if doctor_id is None:
        return None
    moment = now or datetime.now(UTC)
    appointments = await AppointmentRepository(session).in_period(
        moment - FEED_PAST, moment + FEED_AHEAD, doctor_id=doctor_id
    )
    clinics = {c.id: c.short_name for c in await ClinicRepository(session).by_ids({a.clinic_id for a in appointments})}
    events = [appointment_event(a, title, clinics.get(a.clinic_id, "")) for a in appointments]
    return calendar_of(events, title)
