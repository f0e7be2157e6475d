"""Medical documents from templates: questions, МКБ-10 check, «Назад», the signed PDF sent as a file,
clinic-edited templates, FHIR DocumentReference, detection of any change after signing."""

from __future__ import annotations

import base64

import pytest
from aiogram.methods import SendDocument
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from sqlalchemy import text

from bot.keys import Crypto
from handlers.clinical_documents import DocAction, DocCallback, DocFlow
from services.clinic_exchange import ClinicExchange
from services.clinical_documents import ClinicalDocumentService, save_clinic_template
from services.medical_documents import verify_record
from services.patients import PatientLookupService
from services.uow import UnitOfWork
from storage.models import canonical_json
from storage.repositories.medical_documents import Dispatch, MedicalDocumentRepository
from tests.flow.conftest import Flow, make_test_crypto
from tests.flow.test_patients import MOSCOW_OID, NOW, position, sign_in, state_of, world
from tests.flow.test_prescriptions import buttons
from tests.support import updates

DOCTOR_TG = 9_100


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
def dflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    return flow


def button(flow: Flow, action: DocAction, label: str | None = None) -> str:
    for text_, data in buttons(flow):
        if data.startswith("doc:") and DocCallback.unpack(data).action == action and (label is None or label in text_):
            return data
    raise AssertionError(f"no {action} button among {buttons(flow)}")


async def say(flow: Flow, text_: str) -> str:
    return (await flow.feed(updates.message(text_, user_id=DOCTOR_TG))).last_text()


async def press(flow: Flow, data: str) -> None:
    await flow.feed(updates.callback(data, user_id=DOCTOR_TG))


async def test_certificate_from_template_to_signed_pdf(dflow: Flow, crypto: Crypto) -> None:
    await world(dflow, crypto)
    await sign_in(dflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000900001")
    await say(dflow, "/document")
    await say(dflow, "Петрова")
    await press(dflow, button(dflow, DocAction.PATIENT, "Петрова А. В."))
    await press(dflow, button(dflow, DocAction.TEMPLATE, "Справка"))
    assert "Вопрос 1 из 3" in dflow.session.last_text()
    await say(dflow, "по месту работы")
    await press(dflow, button(dflow, DocAction.BACK))
    assert "Вопрос 1 из 3" in dflow.session.last_text()
    await say(dflow, "по месту учёбы")
    await say(dflow, "с 01.12.2026 по 10.12.2026")
    assert "Кода МКБ-10 Z99.99 не существует" in await say(dflow, "Z99.99")
    assert await state_of(dflow, DOCTOR_TG) == DocFlow.field.state
    preview = await say(dflow, "j06.9")
    assert "Петрова Анна Викторовна" in preview and "J06.9 «Острая инфекция" in preview
    assert "по месту учёбы" in preview
    doc = DocCallback.unpack(button(dflow, DocAction.SIGN)).doc
    await press(dflow, button(dflow, DocAction.SIGN))
    sent = await dflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    [document] = sent.sent(SendDocument)
    assert document.protect_content is True and f"№ {doc} подписан" in str(document.caption)

    async with UnitOfWork(dflow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(doc)
    assert record is not None and record.content is not None and record.content.startswith(b"%PDF")
    assert record.content_type == "application/pdf" and len(record.content) < 100 * 1024
    assert b"/FontFile2" in record.content  # the Cyrillic font is embedded
    assert verify_record(record).ok
    DocumentReference.model_validate(ClinicalDocumentService.fhir(record))
    # For the clinic system: a transaction Bundle, the PDF inside the DocumentReference, and a
    # Provenance whose signature covers the PDF bytes; the same bytes on every retry.
    bundle = ClinicExchange.bundle(Dispatch(record, "key-1", 1))
    Bundle.model_validate(bundle)
    assert canonical_json(bundle) == canonical_json(ClinicExchange.bundle(Dispatch(record, "key-1", 2)))
    [reference, provenance] = [entry["resource"] for entry in bundle["entry"]]
    assert base64.b64decode(reference["content"][0]["attachment"]["data"]) == record.content
    assert provenance["signature"][0]["targetFormat"] == "application/pdf"
    assert provenance["signature"][0]["data"] == record.signature
    # A correction keeps the answers and opens the preview of version 2.
    await press(dflow, button(dflow, DocAction.CORRECT))
    assert "по месту учёбы" in dflow.session.last_text()
    assert DocCallback.unpack(button(dflow, DocAction.SIGN)).doc != doc
    # One byte changed anywhere in the PDF is detected.
    changed = bytearray(record.content)
    changed[len(changed) // 2] ^= 1
    from dataclasses import replace

    assert not verify_record(replace(record, content=bytes(changed), content_sha256=None)).ok


async def test_clinic_template_replaces_the_default(dflow: Flow, crypto: Crypto) -> None:
    w = await world(dflow, crypto)
    await sign_in(dflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000900001")
    async with UnitOfWork(dflow.session_maker) as uow:
        service = ClinicalDocumentService(uow, crypto.cipher, crypto.index, None)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await save_clinic_template(uow, w.moscow, "certificate", "Справка", [{"key": "x"}], "{x}")
        await save_clinic_template(
            uow, w.moscow, "certificate", "Справка для бассейна",
            [{"key": "note", "label": "Примечание", "kind": "text", "max": 100}],
            "{patient} может посещать бассейн. {note}",
        )
        del service
    await say(dflow, "/document")
    await say(dflow, "Петрова")
    await press(dflow, button(dflow, DocAction.PATIENT, "Петрова А. В."))
    titles = [t for t, d in buttons(dflow) if d.startswith("doc:")]
    assert "Справка для бассейна" in titles and "Справка" not in titles
    assert {"Медицинское заключение", "Протокол осмотра"} <= set(titles)
    async with dflow.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM document_templates"))).scalar() == 4
