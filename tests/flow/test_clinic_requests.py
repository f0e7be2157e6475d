"""Change requests from the clinic system (FHIR R4 Task, the ЕГИСЗ emulator over HTTP), on SQLite
and PostgreSQL: the registry or a patient asks, the doctor decides with the buttons, the Task
carries the answer back; malformed or unknown requests are refused and create nothing; an
outage delays without duplicating; an unanswered request expires and says so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiogram.methods import EditMessageReplyMarkup
from fhir.resources.R4B.task import Task
from sqlalchemy import text

from bot.i18n import make_i18n
from bot.keys import Crypto
from emulators.egisz.server import DEFAULT_API_KEY, EgiszEmulator
from handlers.notifications import render_notification
from services.schedule.clinic_requests import ClinicRequestSync, SyncReport
from tests.flow import test_clinic_exchange as exchange_flows
from tests.flow import test_schedule as schedule_flows
from tests.flow.conftest import LOCALES, Flow
from tests.flow.test_schedule import _month, alert, book_anna, day_after_tomorrow, press
from tests.schedule.support import World, add_shift, local

MSK = "Europe/Moscow"


# The schedule flows' fixtures (a doctor in three clinics, patients, the dispatcher with a key)
# and the emulator's, under the names the tests ask for.
crypto, sflow, world, egisz = schedule_flows.crypto, schedule_flows.sflow, schedule_flows.world, exchange_flows.egisz


class Clinic:
    """The clinic system as the registry and the bot's sync see it."""

    def __init__(self, egisz: EgiszEmulator, flow: Flow, crypto: Crypto, http: aiohttp.ClientSession) -> None:
        self.egisz, self.flow, self.crypto, self.http = egisz, flow, crypto, http

    async def ask(self, **request: Any) -> str:
        async with self.http.post(f"{self.egisz.base_url}/_emulator/fhir/appointment-requests", json=request) as response:
            body = await response.json()
        assert body["ok"], body
        return str(body["result"]["id"])

    async def tasks(self) -> dict[str, dict[str, Any]]:
        async with self.http.get(f"{self.egisz.base_url}/_emulator/fhir/appointment-requests") as response:
            return {t["id"]: t for t in (await response.json())["result"]}

    async def sync(self, now: datetime | None = None) -> SyncReport:
        clock = (lambda: now) if now is not None else None
        sync = ClinicRequestSync(
            self.flow.session_maker, self.crypto.cipher, self.http, self.egisz.base_url, DEFAULT_API_KEY, timeout=1, now=clock
        )
        return await sync.tick()

    async def requests(self) -> list[tuple[str, str, str | None]]:
        async with self.flow.session_maker() as session:
            rows = await session.execute(text("SELECT kind, status, external_id FROM change_requests ORDER BY id"))
            return [(r[0], r[1], r[2]) for r in rows]

    async def message(self) -> tuple[str, dict[str, str]]:
        """The doctor's latest change-request message and its buttons."""
        async with self.flow.session_maker() as session:
            row = (await session.execute(text(
                "SELECT id, kind, payload FROM notifications WHERE kind = 'change_request' ORDER BY id DESC"
            ))).first()
        assert row is not None
        payload = row[2] if isinstance(row[2], dict) else json.loads(row[2])
        shown, markup = render_notification(make_i18n(LOCALES), row[0], row[1], payload)
        assert markup is not None
        return shown, {b.text: str(b.callback_data) for r in markup.inline_keyboard for b in r}


@pytest.fixture
async def clinic(egisz: EgiszEmulator, sflow: Flow, crypto: Crypto) -> AsyncIterator[Clinic]:
    async with aiohttp.ClientSession() as http:
        yield Clinic(egisz, sflow, crypto, http)


def valid_task(task: dict[str, Any]) -> Task:
    return Task.model_validate({k: v for k, v in task.items() if k != "meta"})


async def test_a_patients_move_request_confirmed_in_the_chat_completes_the_task(
    clinic: Clinic, sflow: Flow, world: World, crypto: Crypto
) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book_anna(sflow, world, crypto, day)
    task_id = await clinic.ask(
        appointment=appointment, kind="move", requester="patient", reason="patient_asked",
        start=local(day, 11, 0, MSK).isoformat(), end=local(day, 11, 30, MSK).isoformat(),
    )
    valid_task((await clinic.tasks())[task_id])
    report = await clinic.sync()
    assert (report.imported, report.refused, report.errors) == (1, 0, [])
    assert (await clinic.tasks())[task_id]["status"] == "received"
    assert await clinic.requests() == [("move", "pending", task_id)]
    assert (await clinic.sync()).imported == 0  # received: not read again

    shown, labels = await clinic.message()
    assert "Просят перенести на: <b>" in shown and f"{day.day} {_month(day)}, 11:00" in shown
    assert "пациент" in shown.casefold()
    await press(sflow, labels["✅ Подтвердить"])
    assert alert(sflow).startswith(f"✅ Подтверждено. Теперь приём {day.day} {_month(day)}, 11:00.")

    report = await clinic.sync()
    assert report.answered == 1
    task = (await clinic.tasks())[task_id]
    assert task["status"] == "completed" and "statusReason" not in task
    valid_task(task)
    assert (await clinic.sync()).answered == 0  # answered once
    async with sflow.session_maker() as session:
        starts = await session.scalar(text("SELECT starts_at FROM appointments WHERE id = :i"), {"i": appointment})
    assert str(starts).startswith(local(day, 11, 0, MSK).strftime("%Y-%m-%d %H:%M"))


async def test_declined_and_countered_requests_say_so_in_the_task(
    clinic: Clinic, sflow: Flow, world: World, crypto: Crypto
) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    first = await book_anna(sflow, world, crypto, day, hour=9)
    second = await book_anna(sflow, world, crypto, day, hour=10)
    cancel = await clinic.ask(appointment=first, kind="cancel", requester="registry", reason="clinic_change")
    await clinic.sync()
    _, labels = await clinic.message()
    await press(sflow, labels["✖️ Отклонить"])
    move = await clinic.ask(
        appointment=second, kind="move", start=local(day, 12, 0, MSK).isoformat(), end=local(day, 12, 30, MSK).isoformat()
    )
    report = await clinic.sync()
    assert (report.imported, report.answered) == (1, 1)  # the new request in, the declined one's answer out
    _, labels = await clinic.message()
    await press(sflow, labels["🕑 Предложить другое время"])
    [edit] = [c for c in sflow.session.calls if isinstance(c, EditMessageReplyMarkup)]
    assert edit.reply_markup is not None
    slots = {b.text: str(b.callback_data) for row in edit.reply_markup.inline_keyboard for b in row}
    offered = next(label for label in slots if "11:30" in label)
    await press(sflow, slots[offered])
    assert (await clinic.sync()).answered == 1
    tasks = await clinic.tasks()
    assert tasks[cancel]["status"] == "rejected" and tasks[cancel]["statusReason"]["coding"][0]["code"] == "declined"
    countered = tasks[move]
    assert countered["status"] == "rejected" and countered["statusReason"]["coding"][0]["code"] == "counter-proposal"
    period = countered["output"][0]["valuePeriod"]
    assert datetime.fromisoformat(period["start"]) == local(day, 11, 30, MSK)
    assert datetime.fromisoformat(period["end"]) == local(day, 12, 0, MSK)
    valid_task(countered)
    async with sflow.session_maker() as session:
        statuses = (await session.execute(text("SELECT status FROM appointments ORDER BY id"))).scalars().all()
    assert statuses == ["booked", "booked"]  # declined and countered: nothing moved


async def test_unknown_and_malformed_requests_are_refused_and_create_nothing(
    clinic: Clinic, sflow: Flow, world: World, crypto: Crypto
) -> None:
    day = day_after_tomorrow()
    appointment = await book_anna(sflow, world, crypto, day)
    start, end = local(day, 11, 0, MSK).isoformat(), local(day, 11, 30, MSK).isoformat()
    unknown = await clinic.ask(appointment=987654, kind="cancel")
    no_focus = await clinic.ask(appointment=appointment, kind="cancel", omit=["focus"])
    no_times = await clinic.ask(appointment=appointment, kind="move", start=start, end=end, omit=["input"])
    longer = await clinic.ask(appointment=appointment, kind="move", start=start, end=local(day, 12, 0, MSK).isoformat())
    past = await clinic.ask(appointment=appointment, kind="move", start="2020-01-01T09:00:00+03:00", end="2020-01-01T09:30:00+03:00")
    report = await clinic.sync()
    assert (report.imported, report.refused) == (0, 5)
    tasks = await clinic.tasks()
    reasons = {task_id: tasks[task_id]["statusReason"]["text"] for task_id in (unknown, no_focus, no_times, longer, past)}
    assert all(tasks[t]["status"] == "rejected" for t in reasons)
    assert reasons[unknown] == "no such appointment"
    assert "focus" in reasons[no_focus] and "input start" in reasons[no_times]
    assert "length" in reasons[longer] and "passed" in reasons[past]
    assert await clinic.requests() == []
    async with sflow.session_maker() as session:
        assert await session.scalar(text("SELECT count(*) FROM notifications WHERE kind = 'change_request'")) == 0


async def test_an_outage_delays_without_duplicating(
    clinic: Clinic, egisz: EgiszEmulator, sflow: Flow, world: World, crypto: Crypto
) -> None:
    day = day_after_tomorrow()
    appointment = await book_anna(sflow, world, crypto, day)
    task_id = await clinic.ask(appointment=appointment, kind="cancel", requester="patient")
    egisz.fail_next("fhir", "unavailable", count=None)
    report = await clinic.sync()
    assert report.imported == 0 and report.errors
    egisz.faults.clear()
    # The request was recorded but the "received" was lost: read again, recorded once.
    await clinic.sync()
    egisz.fail_next("fhir", "html500", count=1)  # the search itself fails this time
    await clinic.sync()
    assert await clinic.requests() == [("cancel", "pending", task_id)]
    assert (await clinic.tasks())[task_id]["status"] == "received"
    _, labels = await clinic.message()
    await press(sflow, labels["✅ Подтвердить"])
    egisz.fail_next("fhir", "unavailable", count=2)  # reading the Task for the answer fails
    assert (await clinic.sync()).answered == 0
    assert (await clinic.sync()).answered == 1
    assert (await clinic.tasks())[task_id]["status"] == "completed"


async def test_a_request_nobody_answers_in_time_fails_as_expired(
    clinic: Clinic, sflow: Flow, world: World, crypto: Crypto
) -> None:
    day = day_after_tomorrow()
    appointment = await book_anna(sflow, world, crypto, day)
    now = datetime.now(UTC)
    task_id = await clinic.ask(appointment=appointment, kind="cancel", expires=(now + timedelta(hours=1)).isoformat())
    too_soon = await clinic.ask(appointment=appointment, kind="cancel", expires=(now + timedelta(minutes=1)).isoformat())
    report = await clinic.sync(now)
    assert (report.imported, report.refused) == (1, 1)
    assert "expires too soon" in (await clinic.tasks())[too_soon]["statusReason"]["text"]
    report = await clinic.sync(now + timedelta(hours=2))
    assert (report.expired, report.answered) == (1, 1)
    task = (await clinic.tasks())[task_id]
    assert task["status"] == "failed" and task["statusReason"]["coding"][0]["code"] == "expired"
    _, labels = await clinic.message()
    await press(sflow, labels["✅ Подтвердить"])
    assert "истёк" in alert(sflow) or "устарел" in alert(sflow)
