"""Signed documents reach the clinic system through the outbox: idempotency keys, outages and
timeouts (delayed, never lost or duplicated), acceptance and rejection as notifications."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.provenance import Provenance
from sqlalchemy import text

from bot.i18n import make_i18n
from bot.keys import Crypto
from emulators.egisz.server import DEFAULT_API_KEY, EgiszEmulator
from emulators.signing.server import SigningEmulator
from handlers.approvals import QueueAction, QueueCallback
from handlers.document_status import register
from handlers.notifications import render_notification
from services.approvals import ApprovalService
from services.clinic_exchange import ClinicExchange
from services.medical_documents import verify_record
from services.prescriptions import PrescriptionService
from services.signing.documents import LocalKeySigner, ServiceSigner
from services.uow import UnitOfWork
from storage.models import canonical_json
from storage.repositories.medical_documents import MedicalDocumentRepository
from tests.flow.conftest import LOCALES, Flow, make_test_crypto
from tests.flow.test_approvals import DRAFT
from tests.flow.test_patients import MOSCOW_OID, position, sign_in, world
from tests.support import updates

DOCTOR_TG = 9_500
T0 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def egisz() -> AsyncIterator[EgiszEmulator]:
    emulator = EgiszEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


async def signed_prescriptions(flow: Flow, crypto: Crypto, count: int, signer: object | None = None) -> list[int]:
    """Queued drafts approved with the PIN through the chat: signed and in the outbox."""

    flow.dp = flow.dispatcher(crypto)
    if signer is not None:
        flow.dp["document_signer"] = signer  # what bot.documents.install_document_signer does
    w = await world(flow, crypto)
    doctor_id = await sign_in(flow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000950001")
    ids = []
    for n in range(count):
        async with UnitOfWork(flow.session_maker) as uow:
            service = ApprovalService(PrescriptionService(uow, crypto.cipher, crypto.index, LocalKeySigner(crypto.cipher)))
            submitted = await service.submit(clinic_id=w.moscow, doctor_id=doctor_id, patient_id=w.anna, author="nurse",
                                             draft=DRAFT, submission_key=f"k{n}")
            ids.append(submitted.document_id)
    await flow.feed(updates.message("/queue", user_id=DOCTOR_TG))
    await flow.feed(updates.callback(QueueCallback(action=QueueAction.APPROVE_ALL).pack(), user_id=DOCTOR_TG))
    await flow.feed(updates.message("2580", user_id=DOCTOR_TG))
    return ids


async def statuses(flow: Flow) -> list[str]:
    async with flow.engine.connect() as conn:
        return list((await conn.execute(text("SELECT status FROM medical_documents ORDER BY id"))).scalars())


async def notifications(flow: Flow) -> list[str]:
    async with flow.engine.connect() as conn:
        return list((await conn.execute(
            text("SELECT dedup_key FROM notifications WHERE kind = 'document_status' ORDER BY id"))).scalars())


async def test_outage_delays_and_retries_never_duplicate(flow: Flow, crypto: Crypto, egisz: EgiszEmulator) -> None:
    ids = await signed_prescriptions(flow, crypto, 2)
    assert await statuses(flow) == ["signed", "signed"]
    async with aiohttp.ClientSession() as http:
        exchange = ClinicExchange(flow.session_maker, crypto.cipher, http, egisz.base_url, DEFAULT_API_KEY, timeout=0.5)
        # The clinic system is down: nothing is lost, the documents wait.
        egisz.fail_next("fhir", "unavailable", count=None)
        report = await exchange.tick(T0)
        assert report.retried == 2 and await statuses(flow) == ["signed", "signed"]
        assert (await exchange.tick(T0 + timedelta(seconds=5))).retried == 0  # backing off, not hammering
        egisz.faults.clear()
        # A timeout after the system stored the first one: the retry carries the same key.
        egisz.fail_next("fhir", "slow", count=1, delay=1.0)
        report = await exchange.tick(T0 + timedelta(minutes=5))
        assert report.retried == 1 and report.sent == 1
        report = await exchange.tick(T0 + timedelta(minutes=10))
        assert report.sent + report.accepted >= 1
        for minute in (15, 20, 25):
            await exchange.tick(T0 + timedelta(minutes=minute))
    assert await statuses(flow) == ["accepted", "accepted"]
    # Each document reached the clinic system once, however many times it was posted.
    assert len(egisz.fhir.by_task) == 2
    posts = [c for c in egisz.calls.filter("fhir") if c.method == "POST"]
    assert len(posts) >= 4  # two refused by the outage, one timed out, then the retries
    assert sorted(await notifications(flow)) == sorted(f"document_status:{i}:accepted" for i in ids)


async def test_rejection_is_recorded_and_notified(flow: Flow, crypto: Crypto, egisz: EgiszEmulator) -> None:
    [doc] = await signed_prescriptions(flow, crypto, 1)
    egisz.fhir.planned_rejections.append("Препарат не входит в формуляр")
    async with aiohttp.ClientSession() as http:
        exchange = ClinicExchange(flow.session_maker, crypto.cipher, http, egisz.base_url, DEFAULT_API_KEY)
        assert (await exchange.tick(T0)).sent == 1
        assert await statuses(flow) == ["sent"]
        assert (await exchange.tick(T0 + timedelta(minutes=1))).rejected == 1
    assert await statuses(flow) == ["rejected"]
    submitted = next(iter(egisz.fhir.by_task.values()))
    assert submitted.resource["resourceType"] == "MedicationRequest" and submitted.signature
    await assert_faithful_bundle(flow, crypto, submitted.bundle, doc)
    assert await notifications(flow) == [f"document_status:{doc}:rejected"]
    listing = (await flow.feed(updates.message("/my_documents", user_id=DOCTOR_TG))).last_text()
    assert f"Рецепт № {doc} (в. 1) — Эналаприл, таблетки 10 мг: ❌ отклонён — Препарат не входит в формуляр" in listing
    # Corrected from the list: a new version at the review; the rejected one stays as it was.
    [correct] = [b.callback_data for row in flow.session.sent()[-1].reply_markup.inline_keyboard for b in row]
    await flow.feed(updates.callback(correct, user_id=DOCTOR_TG))
    assert "версия 2" in flow.session.last_text()
    assert await statuses(flow) == ["rejected", "draft"]
    register()
    async with flow.engine.connect() as conn:
        payload = (await conn.execute(text("SELECT payload FROM notifications WHERE kind = 'document_status'"))).scalar()
        # The clinic system's reason is not stored in clear anywhere in the notifications.
        everything = " ".join(str(v) for row in (await conn.execute(text("SELECT * FROM notifications"))) for v in row)
    assert "формуляр" not in everything and "reason" not in json.loads(payload)
    rendered, markup = render_notification(make_i18n(LOCALES), 1, "document_status", json.loads(payload))
    assert rendered == (f"❌ Рецепт № {doc} отклонён МИС клиники. Причина — в разделе «Мои документы»; "
                        "там же можно создать исправленную версию.")
    # The button opens «Мои документы», where the reason is shown (decrypted from the document row).
    assert markup is not None
    [[button]] = markup.inline_keyboard
    assert button.text == "📄 Мои документы"
    assert button.callback_data is not None
    await flow.feed(updates.callback(button.callback_data, user_id=DOCTOR_TG))
    assert "отклонён — Препарат не входит в формуляр" in flow.session.last_text()


async def assert_faithful_bundle(flow: Flow, crypto: Crypto, bundle: dict[str, Any], doc: int) -> None:
    """A FHIR R4B transaction: the signed resource exactly as signed, and a Provenance carrying the signature."""
    Bundle.model_validate(bundle)
    assert bundle["type"] == "transaction"
    [resource_entry, provenance_entry] = bundle["entry"]
    async with UnitOfWork(flow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(doc)
    assert record is not None and record.content is not None
    assert canonical_json(resource_entry["resource"]).encode("utf-8") == record.content  # what was signed
    assert resource_entry["request"] == {"method": "POST", "url": "MedicationRequest"}
    provenance = Provenance.model_validate(provenance_entry["resource"])
    assert provenance_entry["request"] == {"method": "POST", "url": "Provenance"}
    assert provenance.target[0].reference == resource_entry["fullUrl"]
    [signature] = provenance.signature or []
    assert signature.data is not None and base64.b64encode(signature.data).decode() == record.signature
    assert signature.sigFormat == "application/x-gost3410-2012-256" and signature.when is not None
    assert signature.who.reference == f"Practitioner/{record.doctor_id}"
    assert signature.type[0].code == "1.2.840.10065.1.12.1.1"


def bundle_body(**resource: Any) -> dict[str, Any]:
    document = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/1"}} | resource
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": document, "request": {"method": "POST", "url": "ServiceRequest"}},
        {"fullUrl": "urn:uuid:2", "request": {"method": "POST", "url": "Provenance"}, "resource": {
            "resourceType": "Provenance", "target": [{"reference": "urn:uuid:1"}], "recorded": "2026-12-10T09:00:00+00:00",
            "agent": [{"who": {"reference": "Practitioner/1"}}],
            "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                           "when": "2026-12-10T09:00:00+00:00", "who": {"reference": "Practitioner/1"},
                           "sigFormat": "application/x-gost3410-2012-256", "data": "c2lnbmF0dXJl"}]}},
    ]}


async def test_emulator_idempotency_and_validation(egisz: EgiszEmulator) -> None:
    good = bundle_body()
    Bundle.model_validate(good)  # the fixture itself is valid FHIR R4B
    body = json.dumps(good).encode()
    headers = {"X-API-Key": DEFAULT_API_KEY, "Content-Type": "application/fhir+json"}
    url = f"{egisz.base_url}/fhir"

    async def post(data: bytes, key: str | None, with_api_key: bool = True) -> tuple[int, dict[str, Any], str]:
        sent = (headers if with_api_key else {}) | ({"Idempotency-Key": key} if key else {})
        async with http.post(url, data=data, headers=sent) as r:
            return r.status, await r.json(content_type=None), r.headers.get("Location", "")

    async with aiohttp.ClientSession() as http:
        assert (await post(body, None))[0] == 400
        status, _task, first = await post(body, "a")
        assert status == 202 and first
        status, _task, again = await post(body, "a")
        assert status == 202 and again == first
        status, conflict, _ = await post(body + b" ", "a")
        assert status == 422 and conflict["issue"][0]["code"] == "conflict"
        assert (await post(body, "c", with_api_key=False))[0] == 401
        # Shape checks: each names what is wrong.
        broken: list[tuple[dict[str, Any], str]] = []
        no_signature = bundle_body()
        del no_signature["entry"][1]["resource"]["signature"]
        broken.append((no_signature, "Provenance.signature is required"))
        bad_data = bundle_body()
        bad_data["entry"][1]["resource"]["signature"][0]["data"] = "not base64!"
        broken.append((bad_data, "Provenance.signature.data is not base64"))
        no_format = bundle_body()
        del no_format["entry"][1]["resource"]["signature"][0]["sigFormat"]
        broken.append((no_format, "Provenance.signature.sigFormat is required"))
        wrong_target = bundle_body()
        wrong_target["entry"][1]["resource"]["target"] = [{"reference": "ServiceRequest/9"}]
        broken.append((wrong_target, "Provenance.target must name the document entry"))
        batch = bundle_body() | {"type": "batch"}
        broken.append((batch, "Bundle.type must be transaction"))
        broken.append((bundle_body(subject=None), "subject is required"))
        broken.append(({"resourceType": "ServiceRequest", "subject": {"reference": "Patient/1"}}, "body is not a Bundle"))
        for n, (bad, diagnostics) in enumerate(broken):
            status, answer, _ = await post(json.dumps(bad).encode(), f"bad-{n}")
            assert (status, answer["issue"][0]["diagnostics"]) == (422, diagnostics)
    assert len(egisz.fhir.by_task) == 1


async def test_signing_service_signs_when_configured_and_its_outage_keeps_drafts(flow: Flow, crypto: Crypto) -> None:
    signing = SigningEmulator()
    await signing.start()
    try:
        async with aiohttp.ClientSession() as http:
            signing.fail_next("sign", "unavailable")
            ids = await signed_prescriptions(flow, crypto, 2, ServiceSigner(signing.base_url, http))
            assert "Сервис подписи не отвечает" in flow.session.last_text()
            assert await statuses(flow) == ["draft", "draft"]
            await flow.feed(updates.message("/queue", user_id=DOCTOR_TG))
            await flow.feed(updates.callback(QueueCallback(action=QueueAction.APPROVE_ALL).pack(), user_id=DOCTOR_TG))
            await flow.feed(updates.message("2580", user_id=DOCTOR_TG))
    finally:
        await signing.stop()
    assert await statuses(flow) == ["signed", "signed"]
    async with UnitOfWork(flow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(ids[0])
    assert record is not None and record.signer == "service" and verify_record(record).ok
