"""The first step of a prescription, referral or document offers today's patients (and the
recently seen) as buttons; the surname search still works below them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import text

from bot.keys import Crypto
from tests.flow.conftest import Flow, make_test_crypto
from tests.flow.test_schedule import anna_age, book_anna, buttons, press
from tests.schedule.support import DOCTOR_TG, OTHER_TG, World, make_world
from tests.support import updates

MSK = "Europe/Moscow"


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


def last_sent(flow: Flow) -> SendMessage:
    sent = flow.session.sent(SendMessage)
    assert sent, [c.__api_method__ for c in flow.session.calls]
    return sent[-1]


async def test_prescription_starts_from_todays_patient(sflow: Flow, world: World, crypto: Crypto) -> None:
    today = datetime.now(ZoneInfo(MSK)).date()
    await book_anna(sflow, world, crypto, today, hour=23)

    await sflow.feed(updates.message("/prescription", user_id=DOCTOR_TG))
    prompt = last_sent(sflow)
    assert "фамилию" in prompt.text and "🕘 — приёмы сегодня" in prompt.text
    assert prompt.protect_content is True  # patient names
    choice = f"🕘 23:00 Петрова А. В., {anna_age()}"
    assert choice in buttons(prompt)

    await press(sflow, buttons(prompt)[choice])
    async with sflow.session_maker() as session:
        drafts = (await session.execute(text("SELECT patient_id, status FROM medical_documents"))).all()
    assert [tuple(d) for d in drafts] == [(world.anna, "draft")]


async def test_referral_and_document_offer_the_same_and_typing_still_searches(
    sflow: Flow, world: World, crypto: Crypto
) -> None:
    today = datetime.now(ZoneInfo(MSK)).date()
    await book_anna(sflow, world, crypto, today, hour=23)
    for command in ("/referral", "/document"):
        await sflow.feed(updates.message(command, user_id=DOCTOR_TG))
        assert f"🕘 23:00 Петрова А. В., {anna_age()}" in buttons(last_sent(sflow)), command
        await sflow.feed(updates.message("/cancel", user_id=DOCTOR_TG))

    # A doctor with nobody today gets the plain prompt and types the surname.
    await sflow.feed(updates.message("/referral", user_id=OTHER_TG))
    prompt = last_sent(sflow)
    assert prompt.reply_markup is None and "фамилию" in prompt.text
