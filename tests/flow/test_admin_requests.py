"""A clinic administrator asks a doctor, from the chat, to move or cancel an appointment: times
only, never a patient; the doctor decides and the decision comes back to the administrator."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import EditMessageText, SendMessage
from babel.dates import format_date
from sqlalchemy import text

from bot.i18n import make_i18n
from bot.keys import Crypto
from handlers.admin_requests import AdminRequestCallback, AdminStep
from handlers.notifications import render_notification
from storage.repositories.schedule import AppointmentRepository
from tests.flow.conftest import LOCALES, Flow, make_test_crypto
from tests.flow.test_schedule import alert, audit_rows, buttons, last_markup_call, press
from tests.schedule.support import ADMIN_TG, DOCTOR_TG, World, add_shift, local, make_world
from tests.support import updates

MSK = "Europe/Moscow"
VVO = "Asia/Vladivostok"


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def sflow(flow: Flow, crypto: Crypto) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    return flow


@pytest.fixture
async def world(sflow: Flow, crypto: Crypto) -> World:
    return await make_world(sflow.session_maker, crypto)


def in_two_days(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date() + timedelta(days=2)


async def book(flow: Flow, doctor: int, clinic: int, patient: int, day: date, tz: str, hour: int) -> int:
    async with flow.session_maker() as session:
        row = await AppointmentRepository(session).add(
            doctor, clinic, patient, local(day, hour, 0, tz), local(day, hour, 30, tz), actor="t"
        )
        await session.commit()
        return row.id


async def requests(flow: Flow) -> list[tuple[object, ...]]:
    async with flow.session_maker() as session:
        rows = await session.execute(
            text("SELECT id, appointment_id, requested_by, kind, reason, requester_chat_id, status FROM change_requests ORDER BY id")
        )
        return [tuple(r) for r in rows]


async def test_an_administrator_asks_to_move_and_hears_the_decision(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = in_two_days(MSK)
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book(sflow, world.doctor, world.moscow, world.anna, day, MSK, 9)

    sent = await sflow.feed(updates.message("/shifts", user_id=ADMIN_TG))
    await press(sflow, buttons(sent.sent(SendMessage)[0])["✉️ Попросить врача перенести или отменить приём"], ADMIN_TG)
    doctors = last_markup_call(sflow)
    assert doctors.text == "Чью запись нужно перенести или отменить?"
    assert {"Иванов С.", "Смирнов С."} <= set(buttons(doctors))
    await press(sflow, buttons(doctors)["Иванов С."], ADMIN_TG)
    await press(sflow, buttons(last_markup_call(sflow))[format_date(day, "EEE, d MMM", locale="ru")], ADMIN_TG)
    listing = last_markup_call(sflow)
    assert listing.text.startswith("Записи на ") and "Петрова" not in listing.text
    await press(sflow, buttons(listing)["09:00"], ADMIN_TG)
    card = last_markup_call(sflow)
    month = format_date(day, "d MMMM", locale="ru")
    assert card.text.startswith(f"Запись: {month}, 09:00 (ГП № 1)") and "Петрова" not in card.text
    await press(sflow, buttons(card)["🕑 Перенести"], ADMIN_TG)
    slots = buttons(last_markup_call(sflow))
    assert f"{month}, 09:00" not in slots  # its own time is not offered
    await press(sflow, slots[f"{month}, 11:00"], ADMIN_TG)
    await press(sflow, buttons(last_markup_call(sflow))["Врач будет отсутствовать"], ADMIN_TG)
    confirm = last_markup_call(sflow)
    assert f"Попросить врача перенести её на <b>{month}, 11:00</b>." in confirm.text
    assert "Причина: врач будет отсутствовать" in confirm.text
    assert not await requests(sflow)  # nothing is sent before the confirmation
    await press(sflow, buttons(confirm)["📨 Отправить врачу"], ADMIN_TG)
    assert alert(sflow) == "Отправлено."
    [(request_id, about, by, kind, reason, chat, status)] = await requests(sflow)
    assert (about, by, kind, reason, chat, status) == (appointment, "admin", "move", "doctor_absent", ADMIN_TG, "pending")
    assert sflow.session.sent(EditMessageText)[-1].text.startswith(f"Запрос № {request_id} отправлен врачу.")

    # The doctor's message says who asks and why; the doctor confirms.
    i18n = make_i18n(LOCALES)
    async with sflow.session_maker() as session:
        row = (await session.execute(text("SELECT id, kind, payload, chat_id FROM notifications WHERE kind = 'change_request'"))).one()
    assert row[3] == DOCTOR_TG
    shown, markup = render_notification(i18n, row[0], row[1], json.loads(row[2]))
    assert "Кто просит: администратор медицинской организации" in shown and "Причина: врач будет отсутствовать" in shown
    assert markup is not None
    labels = {b.text: str(b.callback_data) for r in markup.inline_keyboard for b in r}
    await press(sflow, labels["✅ Подтвердить"], DOCTOR_TG)
    async with sflow.session_maker() as session:
        moved = await AppointmentRepository(session).get(appointment)
        result = (await session.execute(text("SELECT id, kind, payload, chat_id FROM notifications WHERE kind = 'change_request_result'"))).one()
    assert moved is not None and moved.starts_at == local(day, 11, 0, MSK)
    assert result[3] == ADMIN_TG
    told, _ = render_notification(i18n, result[0], result[1], json.loads(result[2]))
    assert told.startswith(f"Запрос № {request_id} на изменение записи: подтверждено.") and f"{month}, 11:00" in told
    assert "Петрова" not in told


async def test_cancel_request_bad_times_and_a_second_request(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = in_two_days(MSK)
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    first = await book(sflow, world.doctor, world.moscow, world.anna, day, MSK, 9)
    await book(sflow, world.doctor, world.moscow, world.ivan, day, MSK, 10)
    taken = int(local(day, 10, 0, MSK).timestamp())
    off_grid = int(local(day, 9, 10, MSK).timestamp())
    for ts in (taken, off_grid):
        await press(sflow, AdminRequestCallback(step=AdminStep.SEND, id=first, ts=ts, reason="other").pack(), ADMIN_TG)
        assert alert(sflow) == "Это время уже занято или не свободно. Выберите другое."
    await press(sflow, AdminRequestCallback(step=AdminStep.SEND, id=first, reason="made_up").pack(), ADMIN_TG)
    assert alert(sflow).startswith("Эта кнопка устарела.")
    assert not await requests(sflow)

    await press(sflow, AdminRequestCallback(step=AdminStep.CANCEL, id=first).pack(), ADMIN_TG)
    await press(sflow, buttons(last_markup_call(sflow))["Пациент попросил"], ADMIN_TG)
    confirm = last_markup_call(sflow)
    assert "Попросить врача <b>отменить</b> её." in confirm.text
    await press(sflow, buttons(confirm)["📨 Отправить врачу"], ADMIN_TG)
    await press(sflow, buttons(confirm)["📨 Отправить врачу"], ADMIN_TG)  # a double tap
    assert alert(sflow) == "Врач ещё не ответил на предыдущий запрос по этой записи."
    [(_id, _about, _by, kind, reason, _chat, _status)] = await requests(sflow)
    assert (kind, reason) == ("cancel", "patient_asked")


async def test_other_clinics_doctors_and_appointments_are_denied_and_audited(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = in_two_days(VVO)
    await add_shift(sflow.session_maker, world.doctor, world.vladivostok, day, VVO)
    elsewhere = await book(sflow, world.doctor, world.vladivostok, world.daria, day, VVO, 9)
    for data in (
        AdminRequestCallback(step=AdminStep.DOCTOR, clinic=world.vladivostok, id=world.doctor).pack(),
        AdminRequestCallback(step=AdminStep.DAY, clinic=world.moscow, id=world.admin, day=day.toordinal()).pack(),
        AdminRequestCallback(step=AdminStep.APPOINTMENT, id=elsewhere).pack(),
        AdminRequestCallback(step=AdminStep.MOVE, id=elsewhere).pack(),
        AdminRequestCallback(step=AdminStep.SEND, id=elsewhere, reason="other").pack(),
    ):
        await press(sflow, data, ADMIN_TG)
        assert alert(sflow) == "Этого врача или этой записи нет в вашей медицинской организации. Начните заново: /shifts", data
    assert not await requests(sflow)
    denied = await audit_rows(sflow, "admin_request") + await audit_rows(sflow, "admin_request_file")
    assert [outcome for _, outcome in denied] == ["denied"] * 5
    assert {str(world.doctor), str(world.admin), str(elsewhere)} == {str(object_id) for object_id, _ in denied}

    # A doctor (no administrator role) cannot open the flow at all.
    await press(sflow, AdminRequestCallback(step=AdminStep.DOCTORS).pack(), DOCTOR_TG)
    assert alert(sflow).startswith("У вас нет прав на этот раздел.")
    # A day number no calendar has is answered, not crashed.
    await press(sflow, AdminRequestCallback(step=AdminStep.DAY, clinic=world.moscow, id=world.doctor, day=10**9).pack(), ADMIN_TG)
    assert "что-то пошло не так" not in alert(sflow)
