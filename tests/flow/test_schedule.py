"""The schedule in the chat: /today and navigation, cards and their actions, stale and forged
buttons, rescheduling with undo, cancellation with a reason and the waitlist, booking, change
requests delivered through the outbox, calendar export."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendDocument, SendMessage
from aiogram.types import Message
from babel.dates import format_date
from sqlalchemy import text

from bot.i18n import make_i18n
from bot.keys import Crypto
from handlers.callbacks import MenuAction, MenuCallback
from handlers.notifications import render_notification
from handlers.schedule_ui import (
    ApptAction,
    ApptCallback,
    BookCallback,
    BookStep,
    DayCallback,
    MonthCallback,
    MoveCallback,
    WeekCallback,
)
from handlers.shifts import ShiftAction, ShiftCallback
from services.demo_seed import DemoSeedService
from services.identity.clinic_roles import sync_clinic_roles
from services.identity.linking import CONSENT_KIND, CONSENT_VERSION
from services.patients import full_years
from services.schedule.change_requests import ChangeRequestService
from services.schedule.service import ScheduleService
from services.uow import UnitOfWork
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.schedule import AppointmentRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository
from tests.flow.conftest import LOCALES, Flow, make_test_crypto
from tests.flow.test_identity_flows import set_pin
from tests.flow.test_patients import register_positions
from tests.schedule.support import ANNA, DOCTOR_TG, OTHER_TG, World, add_shift, local, make_world, register_patient
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


def anna_age() -> int:
    """Her age today in Moscow (the tests run on the real clock)."""
    return full_years(ANNA.birth_date, datetime.now(ZoneInfo(MSK)).date())  # type: ignore[arg-type]


def day_after_tomorrow() -> date:
    return datetime.now(ZoneInfo(MSK)).date() + timedelta(days=2)


def buttons(call: SendMessage | EditMessageText) -> dict[str, str]:
    markup = call.reply_markup
    assert markup is not None
    return {b.text: b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data}  # type: ignore[union-attr]


def last_markup_call(flow: Flow) -> SendMessage | EditMessageText:
    calls = [c for c in flow.session.calls if isinstance(c, SendMessage | EditMessageText) and c.reply_markup is not None]
    assert calls, [c.__api_method__ for c in flow.session.calls]
    return calls[-1]


async def press(flow: Flow, data: str, tg: int = DOCTOR_TG, *, protected: bool = True) -> Flow:
    """A button under one of the bot's messages; schedule screens are sent protected, so by default
    the button's message is too (``protected=False``: the main menu, a notification)."""
    update = updates.callback(data, user_id=tg)
    assert update.callback_query is not None and isinstance(update.callback_query.message, Message)
    message = update.callback_query.message.model_copy(update={"has_protected_content": protected or None})
    update = update.model_copy(update={"callback_query": update.callback_query.model_copy(update={"message": message})})
    await flow.feed(update)
    return flow


def alert(flow: Flow) -> str:
    answers = [a for a in flow.session.sent(AnswerCallbackQuery) if a.text]
    assert answers, "no answer text"
    return str(answers[-1].text)


async def book_anna(flow: Flow, world: World, crypto: Crypto, day: date, hour: int = 9) -> int:
    async with flow.session_maker() as session:
        row = await AppointmentRepository(session).add(
            world.doctor, world.moscow, world.anna, local(day, hour, 0, MSK), local(day, hour, 30, MSK), actor="t",
            reason=crypto.cipher.encrypt("Давление", "appointments.reason"),
        )
        await session.commit()
        return row.id


async def audit_rows(flow: Flow, operation: str) -> list[tuple[str | None, str]]:
    async with flow.session_maker() as session:
        rows = await session.execute(text("SELECT object_id, outcome FROM audit_events WHERE operation = :o ORDER BY id"), {"o": operation})
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_today_navigation_week_and_calendar(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book_anna(sflow, world, crypto, day)

    sent = await sflow.feed(updates.message("/today", user_id=DOCTOR_TG))
    [reply] = sent.sent(SendMessage)
    assert reply.text.startswith("<b>Расписание на ") and reply.protect_content is True
    nav = buttons(reply)
    assert {"◀", "Сегодня", "▶", "🗓 Неделя", "📅 Календарь", "➕ Записать пациента", "• Все", "ГП № 1"} <= set(nav)

    await press(sflow, DayCallback(day=day.toordinal()).pack())
    [edit] = sflow.session.sent(EditMessageText)
    assert f"<b>09:00</b> · ГП № 1 — Петрова А. В., {anna_age()} г. — Давление — 🕒 записан" in edit.text
    assert "Анна" not in edit.text and "Викторовна" not in edit.text
    assert "Свободных слотов: 7" in edit.text
    assert any(data == ApptCallback(action=ApptAction.OPEN, id=appointment, v=1).pack() for data in buttons(edit).values())

    await press(sflow, buttons(edit)["🗓 Неделя"])
    week = sflow.session.sent(EditMessageText)[0].text
    assert week.startswith("<b>Неделя ")
    assert "записей 1, свободно 7" in week

    sent = await sflow.feed(updates.message("/schedule", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("<b>Неделя ")

    await press(sflow, MonthCallback(year=day.year, month=day.month).pack())
    assert "Выберите день" in sflow.session.last_text()
    for typed, answer in (
        ("31.02", "Такой даты нет в календаре"),
        ("абракадабра", "Не удалось разобрать дату"),
    ):
        sent = await sflow.feed(updates.message(typed, user_id=DOCTOR_TG))
        assert sent.last_text().startswith(answer), sent.last_text()
    typed = f"{day.day:02d}.{day.month:02d}.{day.year}"
    sent = await sflow.feed(updates.message(typed, user_id=DOCTOR_TG))
    assert "Петрова А. В." in sent.last_text() and sent.sent(SendMessage)[-1].protect_content is True

    # The main menu has the schedule too; the menu message is not protected, so the day (patient
    # data) comes as a new protected message instead of replacing the menu.
    await press(sflow, MenuCallback(action=MenuAction.SCHEDULE).pack(), protected=False)
    assert not sflow.session.sent(EditMessageText)
    [day_message] = sflow.session.sent(SendMessage)
    assert day_message.text.startswith("<b>Расписание на ") and day_message.protect_content is True


async def test_card_actions_stale_buttons_and_forged_ids(sflow: Flow, world: World, crypto: Crypto) -> None:
    async with sflow.session_maker() as session:  # started ten minutes ago
        start = datetime.now(UTC) - timedelta(minutes=10)
        row = await AppointmentRepository(session).add(world.doctor, world.moscow, world.anna, start, start + timedelta(minutes=30), actor="t")
        await session.commit()
    await press(sflow, ApptCallback(action=ApptAction.OPEN, id=row.id, v=1).pack())
    card = sflow.session.sent(EditMessageText)[0]
    assert f"Пациент: Петрова А. В., {anna_age()} г." in card.text and "Статус: 🕒 записан" in card.text
    assert {"🟢 Пришёл", "🚫 Не пришёл", "✅ Приём завершён", "🔁 Перенести", "❌ Отменить"} <= set(buttons(card))
    arrived = buttons(card)["🟢 Пришёл"]
    await press(sflow, arrived)
    assert "Статус: 🟢 пришёл" in sflow.session.sent(EditMessageText)[0].text
    assert alert(sflow) == "Сохранено."

    await press(sflow, arrived)  # the same old button again: out of date, the current card is shown
    assert alert(sflow).startswith("Запись изменилась с тех пор")
    assert "Статус: 🟢 пришёл" in sflow.session.sent(EditMessageText)[0].text

    # Another doctor forges the id: denied, audited, nothing shown or changed.
    for forged in (ApptCallback(action=ApptAction.OPEN, id=row.id).pack(), ApptCallback(action=ApptAction.DONE, id=row.id, v=2).pack()):
        await press(sflow, forged, OTHER_TG)
        assert alert(sflow).startswith("Этой записи нет в вашем расписании")
        assert not sflow.session.sent(EditMessageText)
    assert (str(row.id), "denied") in await audit_rows(sflow, "appointment_view")
    assert (str(row.id), "denied") in await audit_rows(sflow, "appointment_status")
    async with sflow.session_maker() as session:
        current = await AppointmentRepository(session).get(row.id)
    assert current is not None and current.status == "arrived"

    await press(sflow, ApptCallback(action=ApptAction.ICS, id=row.id).pack())
    [document] = sflow.session.sent(SendDocument)
    assert document.document.filename == f"appointment-{row.id}.ics"


async def test_reschedule_offers_next_slots_then_undo(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK, (9, 0), (10, 30), 30)
    appointment = await book_anna(sflow, world, crypto, day)
    await press(sflow, ApptCallback(action=ApptAction.MOVE, id=appointment, v=1).pack())
    offer = sflow.session.sent(EditMessageText)[0]
    offered = buttons(offer)
    # The doctor works in three clinics, so each slot names its clinic; Anna is registered in
    # Moscow only, so only Moscow's slots are offered.
    assert [t for t in offered if ":" in t] == [f"{day.day} {_month(day)}, 09:30 · ГП № 1", f"{day.day} {_month(day)}, 10:00 · ГП № 1"]
    assert "прикреплён и к" not in offer.text
    await press(sflow, offered[f"{day.day} {_month(day)}, 10:00 · ГП № 1"])
    moved = sflow.session.sent(EditMessageText)[0]
    assert moved.text.startswith(f"Перенесено с {day.day} {_month(day)}, 09:00 на {day.day} {_month(day)}, 10:00.")
    await press(sflow, buttons(moved)["↩️ Отменить перенос"])
    assert sflow.session.sent(EditMessageText)[0].text.startswith("Перенос отменён.")
    async with sflow.session_maker() as session:
        current = await AppointmentRepository(session).get(appointment)
    assert current is not None and current.starts_at == local(day, 9, 0, MSK) and current.version == 3
    await press(sflow, offered[f"{day.day} {_month(day)}, 09:30 · ГП № 1"])  # the slot button made for version 1
    assert alert(sflow).startswith("Запись изменилась с тех пор")


def _month(day: date) -> str:
    return format_date(day, "MMMM", locale="ru")


async def _anna_in_two_clinics(flow: Flow, world: World, crypto: Crypto) -> tuple[date, int, int]:
    """Anna booked in Moscow at 9:00 and registered in Vladivostok too; shifts in both that day
    (Vladivostok's 13:00 is 6:00 in Moscow)."""
    day = day_after_tomorrow()
    anna_vvo = await register_patient(flow.session_maker, crypto, world.vladivostok, ANNA)
    await add_shift(flow.session_maker, world.doctor, world.moscow, day, MSK, (9, 0), (10, 0), 30)
    await add_shift(flow.session_maker, world.doctor, world.vladivostok, day, VVO, (13, 0), (14, 0), 30)
    return day, await book_anna(flow, world, crypto, day), anna_vvo


async def _where(flow: Flow, appointment: int) -> tuple[int, int, int]:
    async with flow.session_maker() as session:
        row = await AppointmentRepository(session).get(appointment)
    assert row is not None
    return row.clinic_id, row.patient_id, row.version


async def test_reschedule_to_another_clinic_where_the_patient_is_registered_too(
    sflow: Flow, world: World, crypto: Crypto
) -> None:
    day, appointment, anna_vvo = await _anna_in_two_clinics(sflow, world, crypto)
    d = f"{day.day} {_month(day)}"
    await press(sflow, ApptCallback(action=ApptAction.MOVE, id=appointment, v=1).pack())
    [offer] = sflow.session.sent(EditMessageText)
    assert "Пациент прикреплён и к ДП № 2: предложены и свободные слоты там.\nВыберите новое время:" in offer.text
    offered = buttons(offer)
    # In time order across both clinics, each in its clinic's time and naming it.
    assert [t for t in offered if ":" in t] == [f"{d}, 13:00 · ДП № 2", f"{d}, 13:30 · ДП № 2", f"{d}, 09:30 · ГП № 1"]
    assert all(len(data.encode()) <= 64 for data in offered.values())
    assert MoveCallback.unpack(offered[f"{d}, 13:30 · ДП № 2"]).c == world.vladivostok
    assert MoveCallback.unpack(offered[f"{d}, 09:30 · ГП № 1"]).c == 0  # its own clinic

    await press(sflow, offered[f"{d}, 13:30 · ДП № 2"])
    [moved] = sflow.session.sent(EditMessageText)
    assert moved.text.startswith(f"Перенесено с {d}, 09:00 (ГП № 1) на {d}, 13:30 (ДП № 2).")
    assert "Медицинская организация: ДП № 2" in moved.text and "Петрова А. В." in moved.text
    assert await _where(sflow, appointment) == (world.vladivostok, anna_vvo, 2)
    assert alert(sflow) == "Перенесено."

    await press(sflow, buttons(moved)["↩️ Отменить перенос"])
    [undone] = sflow.session.sent(EditMessageText)
    assert undone.text.startswith("Перенос отменён, запись снова в ГП № 1.")
    assert "Медицинская организация: ГП № 1" in undone.text
    assert await _where(sflow, appointment) == (world.moscow, world.anna, 3)


async def test_forged_slot_buttons_for_other_clinics_change_nothing(sflow: Flow, world: World, crypto: Crypto) -> None:
    day, appointment, _ = await _anna_in_two_clinics(sflow, world, crypto)
    slot = int(local(day, 13, 30, VVO).timestamp())
    for forged, answer in (
        (MoveCallback(id=appointment, v=1, ts=slot, c=world.kaliningrad), "Пациент не прикреплён к этой медицинской организации"),
        (MoveCallback(id=appointment, v=1, ts=slot, c=999_999), "Вы не работаете в этой медицинской организации"),
        (MoveCallback(id=appointment, v=1, ts=int(local(day, 20, 0, VVO).timestamp()), c=world.vladivostok), "На это время нет слота"),
        (MoveCallback(id=appointment, v=1, ts=slot), "На это время нет слота"),  # Vladivostok's time as Moscow's
    ):
        await press(sflow, forged.pack())
        assert alert(sflow).startswith(answer), forged
        assert not sflow.session.sent(EditMessageText)
    assert await audit_rows(sflow, "appointment_reschedule") == [(str(appointment), "denied")] * 4
    assert await _where(sflow, appointment) == (world.moscow, world.anna, 1)
    # The largest ids a button can carry still fit Telegram's 64 bytes.
    widest = MoveCallback(id=2**63 - 1, v=2**31 - 1, ts=int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()), c=2**31 - 1)
    assert len(widest.pack().encode()) <= 64


async def test_a_move_across_clinics_in_english(sflow: Flow, world: World, crypto: Crypto) -> None:
    async with sflow.session_maker() as session:
        await TelegramAccountRepository(session).set_locale(DOCTOR_TG, "en")
        await session.commit()
    day, appointment, _ = await _anna_in_two_clinics(sflow, world, crypto)
    d = format_date(day, "d MMMM", locale="en")
    await press(sflow, ApptCallback(action=ApptAction.MOVE, id=appointment, v=1).pack())
    [offer] = sflow.session.sent(EditMessageText)
    assert "The patient is also registered in ДП № 2: free slots there are offered too." in offer.text
    await press(sflow, buttons(offer)[f"{d}, 13:00 · ДП № 2"])
    [moved] = sflow.session.sent(EditMessageText)
    assert moved.text.startswith(f"Moved from {d}, 09:00 (ГП № 1) to {d}, 13:00 (ДП № 2).")
    await press(sflow, buttons(moved)["↩️ Undo"])
    assert sflow.session.sent(EditMessageText)[0].text.startswith("The move is undone: the appointment is back in ГП № 1.")


async def test_cancel_with_reason_then_fill_from_the_waitlist(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book_anna(sflow, world, crypto, day)
    async with UnitOfWork(sflow.session_maker) as uow:
        await ScheduleService(uow, crypto.cipher, crypto.index).add_to_waitlist(DOCTOR_TG, world.moscow, world.ivan)
    await press(sflow, ApptCallback(action=ApptAction.CANCEL, id=appointment, v=1).pack())
    assert sflow.session.last_text().startswith("Почему отменяется приём?")
    sent = await sflow.feed(updates.message("/frobnicate", user_id=DOCTOR_TG))  # a command is not a reason
    assert "Петрова" not in sent.last_text()
    sent = await sflow.feed(updates.message("Пациентка заболела", user_id=DOCTOR_TG))
    assert sent.texts()[0] == "Приём отменён."
    card = sent.sent(SendMessage)[-1]
    assert "Причина отмены: Пациентка заболела" in card.text and card.protect_content is True
    await press(sflow, buttons(card)["📋 Записать из листа ожидания (1)"])
    assert "Сидоров И. П." in sflow.session.sent(EditMessageText)[0].text


async def test_booking_conversation(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK, (9, 0), (10, 0), 30)
    await add_shift(sflow.session_maker, world.doctor, world.vladivostok, day, "Asia/Vladivostok", (9, 0), (10, 0), 30)
    await sflow.feed(updates.message("/today", user_id=DOCTOR_TG))
    await press(sflow, buttons(sflow.session.sent(SendMessage)[0])["➕ Записать пациента"])
    clinics = buttons(last_markup_call(sflow))
    assert set(clinics) == {"ГП № 1", "ДП № 2", "ГБ № 3"}
    await press(sflow, clinics["ГП № 1"])
    assert sflow.session.last_text().startswith("Отправьте фамилию пациента")
    sent = await sflow.feed(updates.message("Петрова", user_id=DOCTOR_TG))  # Дарья is in Vladivostok: not offered
    found = buttons(sent.sent(SendMessage)[0])
    assert list(found) == [f"Петрова А. В., {anna_age()}"]
    await press(sflow, found[f"Петрова А. В., {anna_age()}"])
    sent = await sflow.feed(updates.message("31 февраля", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Такой даты нет в календаре")
    sent = await sflow.feed(updates.message("вчера", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Эта дата уже прошла")
    sent = await sflow.feed(updates.message(f"{day.day}.{day.month}.{day.year}", user_id=DOCTOR_TG))
    slots = buttons(sent.sent(SendMessage)[0])
    assert [t for t in slots if ":" in t] == [f"{day.day} {_month(day)}, 09:00", f"{day.day} {_month(day)}, 09:30"]
    await press(sflow, slots[f"{day.day} {_month(day)}, 09:30"])
    booked = sflow.session.sent(EditMessageText)[0].text
    assert booked.startswith("✅ Записано.") and f"Петрова А. В., {anna_age()} г." in booked
    await press(sflow, slots[f"{day.day} {_month(day)}, 09:00"])  # the finished conversation's old button
    assert alert(sflow).startswith("Эта запись уже завершена")

    # Another patient goes on the waitlist from the same kind of conversation.
    await press(sflow, BookCallback(step=BookStep.CLINIC, value=world.moscow).pack())
    sent = await sflow.feed(updates.message("Сидоров", user_id=DOCTOR_TG))
    [ivan] = [data for label, data in buttons(sent.sent(SendMessage)[0]).items() if label.startswith("Сидоров И. П., ")]
    await press(sflow, ivan)
    await press(sflow, buttons(last_markup_call(sflow))["📋 В лист ожидания: предложить более раннее время, когда оно освободится"])
    assert sflow.session.last_text().startswith("Пациент в листе ожидания.")
    async with sflow.session_maker() as session:
        assert await session.scalar(text("SELECT count(*) FROM waitlist_entries WHERE status = 'waiting'")) == 1
    async with sflow.session_maker() as session:
        count = await session.scalar(text("SELECT count(*) FROM appointments WHERE status = 'booked'"))
    assert count == 1


async def test_change_request_message_and_decision(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book_anna(sflow, world, crypto, day)
    async with UnitOfWork(sflow.session_maker) as uow:
        await ChangeRequestService(uow, crypto.cipher).create(
            appointment, requested_by="registry", kind="move", proposed_starts_at=local(day, 11, 0, MSK), requester_chat_id=9_999
        )
    async with sflow.session_maker() as session:
        row = (await session.execute(text("SELECT id, kind, payload FROM notifications WHERE kind = 'change_request'"))).one()
    shown, markup = render_notification(make_i18n(LOCALES), row[0], row[1], json.loads(row[2]))
    assert shown.startswith("🔔 <b>Запрос на изменение записи</b>")
    assert f"Просят перенести на: <b>{day.day} {_month(day)}, 11:00</b>" in shown
    assert markup is not None
    labels = {b.text: b.callback_data for r in markup.inline_keyboard for b in r}
    assert {"✅ Подтвердить", "✖️ Отклонить", "🕑 Предложить другое время"} <= set(labels)

    await press(sflow, str(labels["✅ Подтвердить"]), OTHER_TG)
    assert alert(sflow).startswith("Этот запрос не относится к вашему расписанию")
    await press(sflow, str(labels["✅ Подтвердить"]))
    assert alert(sflow).startswith(f"✅ Подтверждено. Теперь приём {day.day} {_month(day)}, 11:00.")
    await press(sflow, str(labels["✖️ Отклонить"]))
    assert alert(sflow) == "Этот запрос уже подтверждён."
    async with sflow.session_maker() as session:
        result = await session.scalar(text("SELECT count(*) FROM notifications WHERE kind = 'change_request_result' AND chat_id = 9999"))
    assert result == 1


async def test_brief_line_and_reminder_render() -> None:
    i18n = make_i18n(LOCALES)
    start = datetime(2026, 12, 11, 6, 0, tzinfo=UTC)
    text_, markup = render_notification(
        i18n, 1, "morning_brief",
        {"date": "2026-12-11", "locale": "ru", "lines": [{"section": "schedule", "count": 5, "first_at": start.isoformat(), "timezone": "Asia/Vladivostok", "pending": 2}]},
    )
    assert "• Приёмов сегодня: 5, первый в 16:00" in text_
    assert "• Ждут вашего решения запросов на изменение: 2" in text_
    assert markup is not None and markup.inline_keyboard[0][0].text == "📅 Расписание на сегодня"
    text_, markup = render_notification(
        i18n, 2, "appointment_reminder",
        {"appointment_id": 7, "starts_at": start.isoformat(), "timezone": "Europe/Kaliningrad", "clinic": "ГБ № 3", "locale": "ru"},
    )
    assert text_ == "⏰ <b>Скоро приём</b>: 11 декабря, 08:00 (ГБ № 3)"
    assert markup is not None and markup.inline_keyboard[0][0].callback_data == ApptCallback(action=ApptAction.OPEN, id=7).pack()


async def test_calendar_feed_link_and_revoke(sflow: Flow, world: World) -> None:
    sent = await sflow.feed(updates.message("/calendar", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("<b>Календарь</b>")
    await press(sflow, buttons(sent.sent(SendMessage)[0])["🔗 Новая ссылка"])
    [link] = sflow.session.sent(SendMessage)
    assert "/calendar/" in link.text and link.protect_content is True
    async with sflow.session_maker() as session:
        assert await session.scalar(text("SELECT count(*) FROM calendar_feeds WHERE revoked_at IS NULL")) == 1
    sent = await sflow.feed(updates.message("/calendar", user_id=DOCTOR_TG))
    await press(sflow, buttons(sent.sent(SendMessage)[0])["🚫 Отозвать ссылку"])
    async with sflow.session_maker() as session:
        assert await session.scalar(text("SELECT count(*) FROM calendar_feeds WHERE revoked_at IS NULL")) == 0


async def test_shifts_from_the_chat(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    sent = await sflow.feed(updates.message("/shifts", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("<b>Ваши смены на две недели</b>")
    await press(sflow, buttons(sent.sent(SendMessage)[0])["➕ Новая смена"])
    await press(sflow, buttons(last_markup_call(sflow))["ГП № 1"])
    assert "Отправьте смену" in sflow.session.last_text()
    sent = await sflow.feed(updates.message("31.02 09:00-12:00 30", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Такой даты нет в календаре")
    sent = await sflow.feed(updates.message(f"{day.day:02d}.{day.month:02d} 09:00-12:00 30 перерыв 10:00-10:30", user_id=DOCTOR_TG))
    draft = sent.sent(SendMessage)[0]
    assert draft.text.startswith("Черновик сохранён.") and "черновик · занято 0 из 5" in draft.text
    await press(sflow, buttons(draft)["📢 Опубликовать"])
    assert "опубликована · занято 0 из 5" in sflow.session.sent(EditMessageText)[0].text
    await book_anna(sflow, world, crypto, day, 11)

    sent = await sflow.feed(updates.message("/shifts", user_id=7_003))  # the Moscow administrator
    listing = sent.last_text()
    assert listing.startswith("<b>Смены медицинской организации на две недели</b>")
    assert "занято 1 из 5" in listing and "Петрова" not in listing
    [shift_id] = [int(data.split(":")[-1]) for data in buttons(sent.sent(SendMessage)[0]).values() if data.startswith("sh:o:")]
    await press(sflow, ShiftCallback(action=ShiftAction.DELETE, id=shift_id).pack(), 7_003)
    asked = sflow.session.sent(EditMessageText)[0]
    assert asked.text.startswith("Записей, которые останутся без смены: 1 (")
    assert "Петрова" not in asked.text
    await press(sflow, buttons(asked)["🗑 Удалить и отменить их"], 7_003)
    assert alert(sflow) == "Смена удалена; отменено записей: 1."


async def test_an_administrator_sees_no_patients(sflow: Flow, world: World, crypto: Crypto) -> None:
    day = day_after_tomorrow()
    await add_shift(sflow.session_maker, world.doctor, world.moscow, day, MSK)
    appointment = await book_anna(sflow, world, crypto, day)
    sent = await sflow.feed(updates.message("/today", user_id=7_003))
    assert sent.last_text().startswith("У вас нет прав на этот раздел.")
    await press(sflow, ApptCallback(action=ApptAction.OPEN, id=appointment).pack(), 7_003)
    assert "Петрова" not in alert(sflow) and not sflow.session.sent(EditMessageText)


async def test_forged_numbers_in_buttons_are_answered_not_crashed(sflow: Flow, world: World, crypto: Crypto) -> None:
    appointment = await book_anna(sflow, world, crypto, day_after_tomorrow())
    for data in (
        MoveCallback(id=appointment, v=1, ts=10**15).pack(),
        DayCallback(day=10**9).pack(),
        MonthCallback(year=99999, month=13).pack(),
    ):
        await press(sflow, data)
        answers = sflow.session.sent(AnswerCallbackQuery)
        assert answers, data
        assert "что-то пошло не так" not in str(answers[-1].text or "")
    async with sflow.session_maker() as session:
        current = await AppointmentRepository(session).get(appointment)
    assert current is not None and current.version == 1


async def test_the_demo_doctor_sees_a_seeded_day_in_both_zones(sflow: Flow, crypto: Crypto) -> None:
    async with UnitOfWork(sflow.session_maker) as uow:
        await DemoSeedService(uow, crypto.cipher, crypto.index).seed()
    # What signing in as «petrova» through the emulators does to the seeded doctor (found by oid).
    async with UnitOfWork(sflow.session_maker) as uow:
        doctor = await DoctorRepository(uow.session).get_by_oid("1000400002")
        assert doctor is not None
        accounts = TelegramAccountRepository(uow.session)
        await accounts.upsert(DOCTOR_TG, DOCTOR_TG)
        await accounts.link_doctor(DOCTOR_TG, doctor.id)
        await ConsentRepository(uow.session).record(doctor.id, CONSENT_KIND, CONSENT_VERSION, True, datetime.now(UTC))
        await DoctorProfileRepository(uow.session).replace_positions(doctor.id, register_positions("petrova"))
        await sync_clinic_roles(uow, doctor.id)
        await uow.commit()
    await set_pin(sflow, DOCTOR_TG)

    sent = await sflow.feed(updates.message("/today", user_id=DOCTOR_TG))
    today = sent.sent(SendMessage)[0]
    assert "· Поликлиника № 1 —" in today.text  # her Moscow afternoon
    await press(sflow, buttons(today)["▶"])
    tomorrow = sflow.session.sent(EditMessageText)[0].text
    assert "· Поликлиника № 1 —" in tomorrow and "· Детская поликлиника № 2 —" in tomorrow
    sent = await sflow.feed(updates.message("/schedule", user_id=DOCTOR_TG))
    assert "записей 0, свободно 0" in sent.last_text()  # the days without shifts


async def test_absurd_numbers_in_day_and_week_buttons_show_today_not_an_error(sflow: Flow, world: World) -> None:
    for data in (DayCallback(day=10**15).pack(), WeekCallback(day=10**15).pack()):
        await press(sflow, data)
        shown = " ".join(sflow.session.texts())
        assert "Код ошибки" not in shown, (data, shown)
        assert "Расписание" in shown or "Неделя" in shown, data
