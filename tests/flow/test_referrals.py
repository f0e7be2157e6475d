"""Referrals (057/у) through the dispatcher: kind, organisation, МКБ-10 by code or words (a code that
does not exist is refused), urgency, justification, signature; FHIR ServiceRequest."""

from __future__ import annotations

import json

import pytest
from aiogram.methods import AnswerCallbackQuery
from fhir.resources.R4B.servicerequest import ServiceRequest

from bot.keys import Crypto
from handlers.referrals import RefAction, RefCallback, RefFlow
from services.medical_documents import verify_record
from services.patients import PatientLookupService
from services.uow import UnitOfWork
from storage.repositories.medical_documents import MedicalDocumentRepository
from tests.flow.conftest import Flow, make_test_crypto
from tests.flow.test_identity_flows import audit_ops
from tests.flow.test_patients import MOSCOW_OID, NOW, position, sign_in, state_of, world
from tests.flow.test_prescriptions import buttons
from tests.support import updates

DOCTOR_TG = 8_100


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
def rflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    return flow


def button(flow: Flow, action: RefAction, label: str | None = None) -> str:
    for text_, data in buttons(flow):
        if data.startswith("ref:") and RefCallback.unpack(data).action == action and (label is None or label in text_):
            return data
    raise AssertionError(f"no {action} button among {buttons(flow)}")


async def say(flow: Flow, text_: str) -> str:
    return (await flow.feed(updates.message(text_, user_id=DOCTOR_TG))).last_text()


async def press(flow: Flow, data: str) -> None:
    await flow.feed(updates.callback(data, user_id=DOCTOR_TG))


async def test_referral_from_patient_to_signed_service_request(rflow: Flow, crypto: Crypto) -> None:
    w = await world(rflow, crypto)
    await sign_in(rflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000800001")
    assert "Новое направление" in await say(rflow, "/referral")
    await say(rflow, "Петрова")
    await press(rflow, button(rflow, RefAction.PATIENT, "Петрова А. В."))
    await press(rflow, button(rflow, RefAction.KIND, "Консультация"))
    assert "от 3 до 200" in await say(rflow, "ы")
    await say(rflow, "ГКБ № 52, кардиология")
    # A code that does not exist, a Cyrillic look-alike letter, then words.
    assert "Кода МКБ-10 X99.9 не существует" in await say(rflow, "X99.9")
    assert await state_of(rflow, DOCTOR_TG) == RefFlow.diagnosis.state
    assert "не найден" in await say(rflow, "абракадабра")
    await say(rflow, "i10")
    assert buttons(rflow)[0][0].startswith("I10 Эссенциальная")
    await say(rflow, "гипертенз")
    assert any(text_.startswith("I11.9") for text_, _ in buttons(rflow))
    await say(rflow, "Е11.9")  # a Cyrillic «Е» typed on a Russian keyboard
    await press(rflow, button(rflow, RefAction.DIAGNOSIS, "E11.9"))
    await press(rflow, button(rflow, RefAction.PRIORITY, "Срочно"))
    await say(rflow, "Гликемия натощак 11 ммоль/л, подбор терапии")
    review = rflow.session.last_text()
    assert "Направление №" in review and "E11.9" in review and "Срочность: Срочно" in review
    doc = RefCallback.unpack(button(rflow, RefAction.SIGN)).doc

    # «Назад» from the review goes to the justification.
    await press(rflow, button(rflow, RefAction.BACK))
    assert await state_of(rflow, DOCTOR_TG) == RefFlow.justification.state
    await say(rflow, "Гликемия натощак 11 ммоль/л, подбор терапии")
    await press(rflow, button(rflow, RefAction.SIGN))
    sent = await rflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1 and f"Направление № {doc} подписано" in sent.last_text()

    async with UnitOfWork(rflow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(doc)
    assert record is not None and record.status == "signed" and record.content is not None
    resource = json.loads(record.content)
    ServiceRequest.model_validate(resource)
    assert resource["reasonCode"][0]["coding"][0]["code"] == "E11.9"
    assert resource["priority"] == "urgent" and resource["subject"] == {"reference": f"Patient/{w.anna}"}
    assert verify_record(record).ok
    assert ("referral_sign", "ok") in await audit_ops(rflow)
    # A correction: a new version at the review, the signed one untouched.
    await press(rflow, button(rflow, RefAction.CORRECT))
    assert "версия 2" in rflow.session.last_text()
    assert RefCallback.unpack(button(rflow, RefAction.SIGN)).doc != doc


async def test_referral_for_another_clinics_patient_is_denied(rflow: Flow, crypto: Crypto) -> None:
    w = await world(rflow, crypto)
    await sign_in(rflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000800001")
    sent = await rflow.feed(
        updates.callback(RefCallback(action=RefAction.PATIENT, arg=str(w.olga)).pack(), user_id=DOCTOR_TG)
    )
    [answer] = sent.sent(AnswerCallbackQuery)
    assert "не относится к пациентам" in str(answer.text)
    assert ("referral_start", "denied") in await audit_ops(rflow)
