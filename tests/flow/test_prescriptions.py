"""Electronic prescriptions through the production dispatcher: the conversation, bad input, paper-only
drugs, forged buttons, restart, PIN twice, signature and FHIR, corrections."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery, SendDocument
from aiogram.types import InlineKeyboardMarkup
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.provenance import Provenance
from sqlalchemy import text, update

from bot.keys import Crypto
from handlers.prescriptions import RxAction, RxCallback, RxFlow
from services.fhir.resources import provenance
from services.medical_documents import verify_record
from services.patients import PatientLookupService
from services.uow import UnitOfWork
from storage.models import MedicalDocument
from storage.repositories.medical_documents import MedicalDocumentRepository
from tests.flow.conftest import Flow
from tests.flow.test_identity_flows import audit_ops
from tests.flow.test_patients import MOSCOW_OID, NOW, OTHER_OID, position, sign_in, state_of, world
from tests.support import updates

DOCTOR_TG = 6_100
OTHER_TG = 6_200


@pytest.fixture
def crypto() -> Crypto:
    from tests.flow.conftest import make_test_crypto

    return make_test_crypto()


@pytest.fixture
def rxflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    return flow


def buttons(flow: Flow) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for call in flow.session.calls:
        markup = getattr(call, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            found += [(b.text, b.callback_data or "") for row in markup.inline_keyboard for b in row]
    return found


def button(flow: Flow, action: RxAction, label: str | None = None) -> str:
    for text_, data in buttons(flow):
        if data.startswith("rx:") and RxCallback.unpack(data).action == action and (label is None or label in text_):
            return data
    raise AssertionError(f"no {action} button among {buttons(flow)}")


async def say(flow: Flow, message: str, tg: int = DOCTOR_TG) -> str:
    sent = await flow.feed(updates.message(message, user_id=tg))
    return sent.last_text()


async def press(flow: Flow, data: str, tg: int = DOCTOR_TG) -> Any:
    return await flow.feed(updates.callback(data, user_id=tg))


def alert(flow: Flow) -> str:
    [answer] = flow.session.sent(AnswerCallbackQuery)
    return str(answer.text or "")


async def doctor(flow: Flow, tg: int = DOCTOR_TG, oid: str = MOSCOW_OID, esia: str = "1000600001") -> int:
    return await sign_in(flow, tg, [position(oid)], esia_oid=esia)


async def to_review(flow: Flow) -> int:
    """The doctor goes from /prescription to the review; returns the draft id."""
    assert "Новый рецепт" in await say(flow, "/prescription")
    await say(flow, "Петрова")
    await press(flow, button(flow, RxAction.PATIENT, "Петрова А. В."))
    assert "название препарата" in flow.session.last_text()
    await say(flow, "амоксицилин")  # a typo
    await press(flow, button(flow, RxAction.DRUG, "Амоксициллин, таблетки 500 мг"))
    await say(flow, "две таблетки")
    await press(flow, button(flow, RxAction.FREQUENCY, "2"))
    await say(flow, "2 недели")
    await press(flow, button(flow, RxAction.ROUTE, "внутрь"))
    assert "56 таблетка" in buttons(flow)[0][0]  # 2 × 2 × 14
    await press(flow, button(flow, RxAction.QUANTITY))
    await press(flow, button(flow, RxAction.VALIDITY, "60"))
    await press(flow, button(flow, RxAction.CONSENT))
    review = flow.session.last_text()
    assert "Амоксициллин, таблетки 500 мг" in review and "Доза: 2 таблетка" in review
    assert "Курс: 14 дн." in review and "Количество: 56" in review
    return RxCallback.unpack(button(flow, RxAction.SIGN)).doc


async def test_prescription_from_patient_to_signature_with_fhir_and_verification(
    rxflow: Flow, crypto: Crypto
) -> None:
    w = await world(rxflow, crypto)
    doctor_id = await doctor(rxflow)
    doc = await to_review(rxflow)

    await press(rxflow, button(rxflow, RxAction.SIGN))
    assert "PIN" in rxflow.session.last_text()
    sent = await rxflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1, "the PIN message is deleted"
    assert f"Рецепт № {doc} подписан" in sent.last_text()

    async with UnitOfWork(rxflow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(doc)
    assert record is not None and record.status == "signed" and record.signer == "local"
    assert record.content_type == "application/fhir+json" and record.content is not None
    resource = json.loads(record.content)
    MedicationRequest.model_validate(resource)
    assert resource["status"] == "active" and resource["subject"] == {"reference": f"Patient/{w.anna}"}
    assert resource["requester"] == {"reference": f"Practitioner/{doctor_id}"}
    assert resource["dispenseRequest"]["quantity"]["value"] == 56
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 2
    assert verify_record(record).ok
    assert record.signed_at is not None and record.signature is not None
    Provenance.model_validate(
        provenance(
            target=f"MedicationRequest/{doc}",
            doctor_id=doctor_id,
            signed_at=record.signed_at,
            signature_b64=record.signature,
            target_format="application/fhir+json",
        )
    )
    # At rest: neither the drug nor the patient's name is readable in the row.
    async with rxflow.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT draft, content, private_key FROM medical_documents, signing_keys"))).one()
    assert all("Амоксициллин" not in value for value in raw)

    # The PIN pressed again: no second signature, nothing changed.
    sent = await rxflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1 and "уже подписан" in sent.last_text()
    assert [op for op in await audit_ops(rxflow) if op[0] == "prescription_sign"] == [("prescription_sign", "ok")]
    # Other words after signing are not taken for a PIN (no deletion, no failed-PIN count).
    sent = await rxflow.feed(updates.message("спасибо", user_id=DOCTOR_TG))
    assert not sent.deleted()
    assert ("pin_failed", "failed") not in await audit_ops(rxflow)

    # Any change after signing is detected.
    tampered = record.content.replace(b'"value":56', b'"value":560')
    async with UnitOfWork(rxflow.session_maker) as uow:
        token = crypto.cipher.encrypt(base64.b64encode(tampered).decode(), "medical_documents.content")
        await uow.session.execute(update(MedicalDocument).where(MedicalDocument.id == doc).values(content=token))
        await uow.commit()
        changed = await MedicalDocumentRepository(uow.session, crypto.cipher).get(doc)
    assert changed is not None and not verify_record(changed).ok


async def test_two_pins_at_once_make_one_signature(rxflow: Flow, crypto: Crypto) -> None:
    await world(rxflow, crypto)
    await doctor(rxflow)
    doc = await to_review(rxflow)
    await press(rxflow, button(rxflow, RxAction.SIGN))
    rxflow.session.clear()
    await asyncio.gather(
        rxflow.dp.feed_update(rxflow.bot, updates.message("2580", user_id=DOCTOR_TG)),
        rxflow.dp.feed_update(rxflow.bot, updates.message("2580", user_id=DOCTOR_TG)),
    )
    assert [op for op in await audit_ops(rxflow) if op[0] == "prescription_sign"] == [("prescription_sign", "ok")]
    async with rxflow.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM medical_documents WHERE status = 'signed'"))).scalar() == 1
    assert doc


async def test_bad_input_at_each_step_is_explained_and_changes_nothing(rxflow: Flow, crypto: Crypto) -> None:
    await world(rxflow, crypto)
    await doctor(rxflow)
    await say(rxflow, "/prescription")
    await say(rxflow, "Петрова")
    await press(rxflow, button(rxflow, RxAction.PATIENT, "Петрова А. В."))
    assert "Нет препарата" in await say(rxflow, "ксилофон")
    assert "подходят 8 препаратов" in await say(rxflow, "окс")
    await say(rxflow, "амоксициллин")
    await press(rxflow, button(rxflow, RxAction.DRUG, "таблетки 500 мг"))
    for bad, reason in (("0", "больше нуля"), ("-1", "больше нуля"), ("200", "похожа на опечатку"),
                        ("много", "числом")):
        assert reason in await say(rxflow, bad), bad
        assert await state_of(rxflow, DOCTOR_TG) == RxFlow.dose.state
    await say(rxflow, "1")
    assert "похоже на опечатку" in await say(rxflow, "30")
    await say(rxflow, "3")
    assert "не более 365 дн." in await say(rxflow, "400")
    assert "не менее одного дня" in await say(rxflow, "0")
    await say(rxflow, "10")
    await press(rxflow, button(rxflow, RxAction.ROUTE, "внутрь"))
    assert "больше нуля" in await say(rxflow, "0")
    assert "не более 1000" in await say(rxflow, "5000")
    assert await state_of(rxflow, DOCTOR_TG) == RxFlow.quantity.state

    # «Назад» goes one step up, and the draft keeps what was entered.
    doc = (await rxflow.storage.get_data(StorageKey(bot_id=rxflow.bot.id, chat_id=DOCTOR_TG, user_id=DOCTOR_TG)))["rx"]
    await press(rxflow, RxCallback(action=RxAction.BACK, doc=doc).pack())
    assert "Способ применения" in rxflow.session.last_text()
    assert await state_of(rxflow, DOCTOR_TG) == RxFlow.route.state


async def test_paper_only_drug_is_refused_with_reason_and_a_pdf(rxflow: Flow, crypto: Crypto) -> None:
    await world(rxflow, crypto)
    await doctor(rxflow)
    await say(rxflow, "/prescription")
    await say(rxflow, "Петрова")
    await press(rxflow, button(rxflow, RxAction.PATIENT, "Петрова А. В."))
    await say(rxflow, "феназепам")
    sent = await press(rxflow, button(rxflow, RxAction.DRUG, "Феназепам"))
    assert "148-1/у-88" in sent.texts()[0] and "психотропн" in sent.texts()[0]
    [document] = sent.sent(SendDocument)
    assert document.protect_content is True
    async with rxflow.engine.connect() as conn:
        statuses = (await conn.execute(text("SELECT status FROM medical_documents"))).scalars().all()
    assert statuses == ["discarded"]
    assert await state_of(rxflow, DOCTOR_TG) is None


async def test_forged_buttons_are_denied_and_audited(rxflow: Flow, crypto: Crypto) -> None:
    w = await world(rxflow, crypto)
    await doctor(rxflow)
    await sign_in(rxflow, OTHER_TG, [position(OTHER_OID)], esia_oid="1000600002")
    # A patient of a clinic the doctor does not work in.
    await press(rxflow, RxCallback(action=RxAction.PATIENT, arg=str(w.olga)).pack())
    assert "не относится к пациентам" in alert(rxflow)
    doc = await to_review(rxflow)
    # Another doctor pressing «sign» or «resume» with this draft's id.
    await press(rxflow, RxCallback(action=RxAction.SIGN, doc=doc).pack(), tg=OTHER_TG)
    assert "не найден среди ваших" in alert(rxflow)
    await press(rxflow, RxCallback(action=RxAction.RESUME, doc=doc).pack(), tg=OTHER_TG)
    assert "не найден среди ваших" in alert(rxflow)
    ops = await audit_ops(rxflow)
    assert ("prescription_start", "denied") in ops
    assert ("prescription_view", "denied") in ops and ("prescription_resume", "denied") in ops


async def test_draft_survives_restart_and_expired_session(
    rxflow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world(rxflow, crypto)
    await doctor(rxflow)
    await say(rxflow, "/prescription")
    await say(rxflow, "Петрова")
    await press(rxflow, button(rxflow, RxAction.PATIENT, "Петрова А. В."))
    await say(rxflow, "метформин")
    await press(rxflow, button(rxflow, RxAction.DRUG, "1000 мг"))
    await say(rxflow, "1")

    # A restart: a new dispatcher over the same database.
    rxflow.dp = rxflow.dispatcher(crypto)
    await say(rxflow, "/cancel")  # leaving the conversation keeps the draft
    assert "незавершённые рецепты" in await say(rxflow, "/prescription")
    await press(rxflow, button(rxflow, RxAction.RESUME, "Метформин"))
    assert "раз в день" in rxflow.session.last_text()
    assert await state_of(rxflow, DOCTOR_TG) == RxFlow.frequency.state

    # The session expires mid-conversation: the PIN is asked, the draft is kept.
    async with rxflow.engine.begin() as conn:
        await conn.execute(text("UPDATE doctor_security SET last_verified_at = NULL"))
    assert "введите PIN" in await say(rxflow, "2")
    await say(rxflow, "2580")
    await say(rxflow, "/prescription")
    await press(rxflow, button(rxflow, RxAction.RESUME, "Метформин"))
    assert "раз в день" in rxflow.session.last_text()


async def test_correction_is_a_new_version_and_the_signed_one_stays(rxflow: Flow, crypto: Crypto) -> None:
    await world(rxflow, crypto)
    await doctor(rxflow)
    doc = await to_review(rxflow)
    await press(rxflow, button(rxflow, RxAction.SIGN))
    await say(rxflow, "2580")
    await press(rxflow, button(rxflow, RxAction.CORRECT))
    assert "версия 2" in rxflow.session.last_text()
    new_doc = RxCallback.unpack(button(rxflow, RxAction.SIGN)).doc
    assert new_doc != doc
    for _ in range(7):  # back to the dose
        await press(rxflow, button(rxflow, RxAction.BACK))
    assert "Разовая доза" in rxflow.session.last_text()
    await say(rxflow, "1")
    await press(rxflow, button(rxflow, RxAction.FREQUENCY, "2"))
    await say(rxflow, "14")
    await press(rxflow, button(rxflow, RxAction.ROUTE, "внутрь"))
    await press(rxflow, button(rxflow, RxAction.QUANTITY))
    await press(rxflow, button(rxflow, RxAction.VALIDITY, "60"))
    await press(rxflow, button(rxflow, RxAction.CONSENT))
    assert "✏️ <u>Доза: 1 таблетка</u>" in rxflow.session.last_text()
    async with UnitOfWork(rxflow.session_maker) as uow:
        repo = MedicalDocumentRepository(uow.session, crypto.cipher)
        old, new = await repo.get(doc), await repo.get(new_doc)
    assert old is not None and old.status == "signed" and verify_record(old).ok
    assert new is not None and new.previous_id == doc and new.version == 2 and new.status == "draft"
    # The signed version cannot be edited through the service.
    await press(rxflow, RxCallback(action=RxAction.FREQUENCY, doc=doc, arg="3").pack())
    assert "уже подписан" in alert(rxflow)


async def test_a_deleted_draft_cannot_be_signed_with_an_old_button(rxflow: Flow, crypto: Crypto) -> None:
    await world(rxflow, crypto)
    await doctor(rxflow)
    doc = await to_review(rxflow)
    sign = button(rxflow, RxAction.SIGN)
    await press(rxflow, RxCallback(action=RxAction.DISCARD, doc=doc).pack())
    await press(rxflow, sign)
    await rxflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    said = " ".join(rxflow.session.texts()) + " ".join(str(a.text) for a in rxflow.session.sent(AnswerCallbackQuery))
    assert "удалён или отклонён" in said
    async with rxflow.engine.connect() as conn:
        statuses = (await conn.execute(text("SELECT status FROM medical_documents"))).scalars().all()
    assert statuses == ["discarded"]
    assert ("prescription_sign", "ok") not in await audit_ops(rxflow)
