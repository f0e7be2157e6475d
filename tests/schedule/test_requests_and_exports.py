"""Change requests (decided once, expired, stale, forged), the outbox messages they cause, FHIR
resources validated by fhir.resources (R4B), the .ics export and the calendar feed, the brief
section and appointment reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.schedule import Schedule as FhirSchedule
from fhir.resources.R4B.slot import Slot as FhirSlot
from icalendar import Calendar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.calendar_feed import feed_routes
from bot.i18n import make_i18n
from bot.keys import Crypto
from services.errors import DomainError
from services.reminders import ReminderScans
from services.schedule.calendar import CalendarService, feed_ics
from services.schedule.change_requests import ChangeRequestService, RequestClosed, RequestNotYours
from services.schedule.fhir import appointment_resource, schedule_resource, slot_resource
from services.schedule.notifications import appointment_reminders
from services.schedule.service import ScheduleService
from services.schedule.slots import shift_slots
from services.uow import UnitOfWork
from storage.repositories.calendar_feeds import token_hash
from storage.repositories.schedule import AppointmentRepository, ShiftRepository
from tests.flow.conftest import LOCALES, make_test_crypto
from tests.schedule.support import DOCTOR_TG, OTHER_TG, World, add_shift, local, make_world

MSK = "Europe/Moscow"


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    return await make_world(session_maker, crypto)


def tomorrow() -> date:
    """The day after tomorrow in Moscow: bookable whatever the time of the run."""
    return datetime.now(ZoneInfo(MSK)).date() + timedelta(days=2)


async def book(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, w: World, day: date, hour: int, minute: int = 0) -> int:
    async with UnitOfWork(session_maker) as uow:
        view = await ScheduleService(uow, crypto.cipher, crypto.index).book(DOCTOR_TG, w.moscow, w.anna, local(day, hour, minute, MSK))
        return view.id


async def requests(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, method: str, *args: object, now: datetime | None = None, **kw: object) -> object:
    async with UnitOfWork(session_maker) as uow:
        service = ChangeRequestService(uow, crypto.cipher, now=(lambda: now) if now else None)
        return await getattr(service, method)(*args, **kw)


async def outbox(session_maker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str, int]]:
    async with session_maker() as session:
        rows = await session.execute(text("SELECT kind, urgency, payload, chat_id FROM notifications ORDER BY id"))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_move_request_confirmed_moves_the_appointment_and_reports_back(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    day = tomorrow()
    await add_shift(session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book(session_maker, crypto, world, day, 9)
    request = await requests(
        session_maker, crypto, "create", appointment, requested_by="admin", kind="move",
        proposed_starts_at=local(day, 11, 0, MSK), requester_chat_id=555,
    )
    [(kind, urgency, payload, chat)] = await outbox(session_maker)
    assert (kind, urgency, chat) == ("change_request", "routine", DOCTOR_TG)  # not today: routine
    assert "Петрова" not in payload and '"request_id":' in payload
    with pytest.raises(RequestNotYours):
        await requests(session_maker, crypto, "decide", OTHER_TG, request, True)
    decision = await requests(session_maker, crypto, "decide", DOCTOR_TG, request, True)
    assert decision.status == "confirmed" and decision.starts_at == local(day, 11, 0, MSK)
    async with session_maker() as session:
        moved = await AppointmentRepository(session).get(appointment)
        denied = await session.scalar(text("SELECT count(*) FROM audit_events WHERE operation = 'change_request_decide' AND outcome = 'denied'"))
    assert moved is not None and moved.starts_at == local(day, 11, 0, MSK) and moved.version == 2
    assert denied == 1
    kinds = [(k, c) for k, _, _, c in await outbox(session_maker)]
    assert kinds[-1] == ("change_request_result", 555)
    with pytest.raises(RequestClosed) as error:  # the old button pressed again
        await requests(session_maker, crypto, "decide", DOCTOR_TG, request, False)
    assert error.value.message_id == "This request has already been confirmed."


async def test_same_day_request_is_urgent_and_cancel_request_cancels(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    now = datetime.now(UTC)
    async with session_maker() as session:  # an appointment later today, Moscow time
        start = now + timedelta(hours=1)
        row = await AppointmentRepository(session).add(world.doctor, world.moscow, world.anna, start, start + timedelta(minutes=30), actor="t")
        await session.commit()
    request = await requests(session_maker, crypto, "create", row.id, requested_by="registry", kind="cancel")
    [(_, urgency, _, _)] = await outbox(session_maker)
    moscow = ZoneInfo(MSK)
    assert urgency == ("urgent" if start.astimezone(moscow).date() == now.astimezone(moscow).date() else "routine")
    decision = await requests(session_maker, crypto, "decide", DOCTOR_TG, request, True)
    assert decision.status == "confirmed"
    async with session_maker() as session:
        cancelled = await AppointmentRepository(session).get(row.id)
    assert cancelled is not None and cancelled.status == "cancelled"


async def test_expired_and_stale_requests_answer_so(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    day = tomorrow()
    await add_shift(session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book(session_maker, crypto, world, day, 9)
    old = await requests(session_maker, crypto, "create", appointment, requested_by="patient", kind="cancel", ttl=timedelta(minutes=10))
    with pytest.raises(RequestClosed, match="expired"):
        await requests(session_maker, crypto, "decide", DOCTOR_TG, old, True, now=datetime.now(UTC) + timedelta(minutes=11))
    with pytest.raises(RequestClosed, match="expired"):  # and stays expired
        await requests(session_maker, crypto, "decide", DOCTOR_TG, old, True)
    stale = await requests(session_maker, crypto, "create", appointment, requested_by="registry", kind="move", proposed_starts_at=local(day, 10, 0, MSK))
    async with UnitOfWork(session_maker) as uow:  # the doctor moved it meanwhile
        await ScheduleService(uow, crypto.cipher, crypto.index).reschedule(DOCTOR_TG, appointment, 1, local(day, 9, 30, MSK))
    with pytest.raises(RequestClosed, match="has changed since"):
        await requests(session_maker, crypto, "decide", DOCTOR_TG, stale, True)
    # A counter-proposal closes the request and reports the proposed time.
    third = await requests(session_maker, crypto, "create", appointment, requested_by="admin", kind="cancel", requester_chat_id=777)
    slots = await requests(session_maker, crypto, "counter_slots", DOCTOR_TG, third)
    assert slots and all(s.starts_at != local(day, 9, 30, MSK) for s in slots)
    with pytest.raises(DomainError, match="no slot at this time"):
        await requests(session_maker, crypto, "counter", DOCTOR_TG, third, local(day, 9, 10, MSK))
    decision = await requests(session_maker, crypto, "counter", DOCTOR_TG, third, slots[0].starts_at)
    assert decision.status == "countered"
    assert (await outbox(session_maker))[-1][0] == "change_request_result"


async def test_fhir_resources_validate_as_r4(session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto) -> None:
    day = tomorrow()
    shift_id = await add_shift(session_maker, world.doctor, world.moscow, day, MSK)
    appointment_id = await book(session_maker, crypto, world, day, 9)
    async with session_maker() as session:
        shift = await ShiftRepository(session).get(shift_id)
        appointment = await AppointmentRepository(session).get(appointment_id)
    assert shift is not None and appointment is not None
    schedule = FhirSchedule.model_validate(schedule_resource(world.doctor, world.moscow, "ГП № 1", (shift.starts_at, shift.ends_at)))
    assert schedule.actor[0].reference == f"Practitioner/{world.doctor}"
    slots = [FhirSlot.model_validate(slot_resource(world.doctor, s, busy=s.starts_at == appointment.starts_at)) for s in shift_slots(shift)]
    assert [s.status for s in slots[:2]] == ["busy", "free"]
    resource = FhirAppointment.model_validate(appointment_resource(appointment))
    assert resource.status == "booked" and resource.meta.versionId == "1"
    assert {p.actor.reference for p in resource.participant} == {
        f"Patient/{world.anna}", f"Practitioner/{world.doctor}", f"Location/{world.moscow}"
    }
    assert "Петрова" not in resource.model_dump_json()


async def test_ics_and_the_personal_feed(session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto) -> None:
    day = tomorrow()
    await add_shift(session_maker, world.doctor, world.moscow, day, MSK)
    appointment_id = await book(session_maker, crypto, world, day, 9)
    async with UnitOfWork(session_maker) as uow:
        ics = await CalendarService(uow, crypto.cipher).appointment_ics(DOCTOR_TG, appointment_id, "Приём")
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    assert event["UID"] == f"appointment-{appointment_id}@medcab" and str(event["SUMMARY"]) == "Приём"
    assert event.decoded("DTSTART") == local(day, 9, 0, MSK)
    assert "Петрова".encode() not in ics
    async with UnitOfWork(session_maker) as uow:
        with pytest.raises(DomainError):
            await CalendarService(uow, crypto.cipher).appointment_ics(OTHER_TG, appointment_id, "Приём")
        token = await CalendarService(uow, crypto.cipher).create_feed(DOCTOR_TG)
    async with session_maker() as session:
        stored = (await session.execute(text("SELECT token_hash FROM calendar_feeds"))).scalars().all()
    assert stored == [token_hash(token)] and token not in stored
    async with UnitOfWork(session_maker) as uow:
        feed = await feed_ics(uow, token, "Приёмы")
    assert feed is not None and len(Calendar.from_ical(feed).walk("VEVENT")) == 1
    async with UnitOfWork(session_maker) as uow:
        assert await feed_ics(uow, "wrong", "Приёмы") is None
        newer = await CalendarService(uow, crypto.cipher).create_feed(DOCTOR_TG)
    async with UnitOfWork(session_maker) as uow:
        assert await feed_ics(uow, token, "x") is None  # replaced
        assert await CalendarService(uow, crypto.cipher).revoke_feed(DOCTOR_TG)
    async with UnitOfWork(session_maker) as uow:
        assert await feed_ics(uow, newer, "x") is None  # revoked


async def test_brief_section_and_appointment_reminders(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    now = datetime.now(UTC)
    async with session_maker() as session:
        repo = AppointmentRepository(session)
        soon = await repo.add(world.doctor, world.moscow, world.anna, now + timedelta(minutes=20), now + timedelta(minutes=40), actor="t")
        await repo.add(world.doctor, world.moscow, world.ivan, now + timedelta(hours=3), now + timedelta(hours=3, minutes=20), actor="t")
        await session.commit()
    async with UnitOfWork(session_maker) as uow:
        assert await appointment_reminders(uow, now) == 1  # 30 minutes ahead by default
    async with UnitOfWork(session_maker) as uow:
        assert await appointment_reminders(uow, now) == 0  # idempotent
    reminder = [row for row in await outbox(session_maker) if row[0] == "appointment_reminder"]
    assert len(reminder) == 1 and f'"appointment_id":{soon.id}' in reminder[0][2]
    async with UnitOfWork(session_maker) as uow:
        # 10:00 in Moscow (the default brief time zone), after the 08:00 brief.
        await ReminderScans(uow).morning_briefs(datetime.combine(now.date(), time(7, 0), tzinfo=UTC))
    async with session_maker() as session:
        payload = await session.scalar(text("SELECT payload FROM notifications WHERE kind = 'morning_brief' AND chat_id = :c"), {"c": DOCTOR_TG})
    assert payload is not None and '"section":"schedule"' in payload and '"pending":0' in payload


async def test_the_feed_is_served_over_http_and_404s_when_revoked(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    day = tomorrow()
    await add_shift(session_maker, world.doctor, world.moscow, day, MSK)
    await book(session_maker, crypto, world, day, 9)
    async with UnitOfWork(session_maker) as uow:
        token = await CalendarService(uow, crypto.cipher).create_feed(DOCTOR_TG)
    app = web.Application()
    app.add_routes(feed_routes(session_maker, make_i18n(LOCALES)))
    async with TestClient(TestServer(app)) as client:
        response = await client.get(f"/calendar/{token}.ics")
        assert response.status == 200 and response.content_type == "text/calendar"
        body = await response.read()
        [event] = Calendar.from_ical(body).walk("VEVENT")
        assert str(event["SUMMARY"]) == "Приёмы" and str(event["LOCATION"]) == "ГП № 1"
        assert "Петрова".encode() not in body
        assert (await client.get("/calendar/not-a-token.ics")).status == 404
        async with UnitOfWork(session_maker) as uow:
            await CalendarService(uow, crypto.cipher).revoke_feed(DOCTOR_TG)
        assert (await client.get(f"/calendar/{token}.ics")).status == 404


async def test_a_move_to_a_time_no_longer_in_a_published_shift_is_not_confirmed(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    day = tomorrow()
    shift = await add_shift(session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book(session_maker, crypto, world, day, 9)
    # The registry asks for 15:00: outside the 09:00–13:00 shift (producers outside the chat are not checked).
    outside = await requests(session_maker, crypto, "create", appointment, requested_by="registry", kind="move",
                             proposed_starts_at=local(day, 15, 0, MSK))
    inside = await requests(session_maker, crypto, "create", appointment, requested_by="registry", kind="move",
                            proposed_starts_at=local(day, 11, 0, MSK))
    with pytest.raises(RequestClosed, match="no longer open"):
        await requests(session_maker, crypto, "decide", DOCTOR_TG, outside, True)
    async with session_maker() as session:  # the shift is withdrawn before the second answer
        await ShiftRepository(session).update(await ShiftRepository(session).get(shift), status="draft")
        await session.commit()
    with pytest.raises(RequestClosed, match="no longer open"):
        await requests(session_maker, crypto, "decide", DOCTOR_TG, inside, True)
    async with session_maker() as session:
        kept = await AppointmentRepository(session).get(appointment)
        pending = await session.scalar(text("SELECT count(*) FROM change_requests WHERE status = 'pending'"))
    assert kept is not None and kept.starts_at == local(day, 9, 0, MSK) and kept.version == 1
    assert pending == 2  # still open: the doctor can decline or propose another time
    # Declining needs no free slot.
    assert (await requests(session_maker, crypto, "decide", DOCTOR_TG, inside, False)).status == "declined"
