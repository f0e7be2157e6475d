"""The «Напоминать и о коротких приёмах» switch in /notifications: off by default, stored when pressed."""

from __future__ import annotations

from aiogram.methods import EditMessageText, SendMessage

from bot.keys import Crypto
from storage.repositories.notification_preferences import NotificationPreferencesRepository
from tests.flow.conftest import Flow, make_test_crypto
from tests.schedule.support import DOCTOR_TG, make_world
from tests.support import updates


def labels(call: SendMessage | EditMessageText) -> dict[str, str]:
    assert call.reply_markup is not None
    return {b.text: str(b.callback_data) for row in call.reply_markup.inline_keyboard for b in row}  # type: ignore[union-attr]


async def test_short_appointment_reminders_are_off_until_switched_on(flow: Flow) -> None:
    crypto: Crypto = make_test_crypto()
    flow.dp = flow.dispatcher(crypto)
    world = await make_world(flow.session_maker, crypto)

    sent = await flow.feed(updates.message("/notifications", user_id=DOCTOR_TG))
    [screen] = sent.sent(SendMessage)
    assert "Приёмы короче 20 мин: без напоминания" in screen.text
    switch = labels(screen)["⏱ Напоминать и о коротких приёмах: выкл."]

    sent = await flow.feed(updates.callback(switch, user_id=DOCTOR_TG))
    [edited] = sent.sent(EditMessageText)
    assert "Приёмы короче 20 мин: тоже напоминать" in edited.text
    assert "⏱ Напоминать и о коротких приёмах: вкл." in labels(edited)
    async with flow.session_maker() as session:
        prefs = await NotificationPreferencesRepository(session).get(world.doctor)
    assert prefs is not None and prefs.remind_short_appointments is True

    await flow.feed(updates.callback(switch, user_id=DOCTOR_TG))  # pressed again: off
    async with flow.session_maker() as session:
        prefs = await NotificationPreferencesRepository(session).get(world.doctor)
    assert prefs is not None and prefs.remind_short_appointments is False
