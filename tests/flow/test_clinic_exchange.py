"""Signed documents reach the clinic system through the outbox: idempotency keys, outages and
timeouts (delayed, never lost or duplicated), acceptance and rejection as notifications."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
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
    from tests.flow.conftest import make_flow_dispatcher

    flow.dp = make_flow_dispatcher(flow.session_maker, flow.storage, crypto=crypto)
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


async def test_emulator_idempotency_and_validation(egisz: EgiszEmulator) -> None:
    body = b'{"resourceType":"ServiceRequest","subject":{"reference":"Patient/1"}}'
    headers = {"X-API-Key": DEFAULT_API_KEY, "Content-Type": "application/fhir+json"}
    async with aiohttp.ClientSession() as http:
        url = f"{egisz.base_url}/fhir/ServiceRequest"
        async with http.post(url, data=body, headers=headers) as r:
            assert r.status == 400
        async with http.post(url, data=body, headers=headers | {"Idempotency-Key": "a"}) as r:
            assert r.status == 202
            first = r.headers["Location"]
        async with http.post(url, data=body, headers=headers | {"Idempotency-Key": "a"}) as r:
            assert r.status == 202 and r.headers["Location"] == first
        async with http.post(url, data=body + b" ", headers=headers | {"Idempotency-Key": "a"}) as r:
            assert r.status == 422
        async with http.post(f"{egisz.base_url}/fhir/MedicationRequest", data=body,
                             headers=headers | {"Idempotency-Key": "b"}) as r:
            assert r.status == 422
        async with http.post(url, data=body, headers={"Idempotency-Key": "c"}) as r:
            assert r.status == 401
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
