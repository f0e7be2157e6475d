"""The approval queue: drafts from a nurse or the clinic system, one-PIN approval of what was shown,
rejection with a reason, highlighted changes, forged buttons, the morning-brief count."""

from __future__ import annotations

from datetime import date

import pytest
from aiogram.methods import AnswerCallbackQuery
from sqlalchemy import event, text

from bot.i18n import make_i18n
from bot.keys import Crypto
from handlers.approvals import QueueAction, QueueCallback, register
from handlers.notifications import render_notification
from services.approvals import ApprovalService, InvalidSubmission, approvals_section
from services.medical_documents import verify_record
from services.patients import PatientLookupService
from services.prescriptions import PrescriptionService
from services.signing.documents import LocalKeySigner
from services.uow import UnitOfWork
from storage.repositories.medical_documents import MedicalDocumentRepository
from storage.repositories.patients import PatientData, PatientRepository
from storage.repositories.reminder_targets import Target
from tests.flow.conftest import LOCALES, Flow, make_test_crypto
from tests.flow.test_identity_flows import audit_ops
from tests.flow.test_patients import MOSCOW_OID, NOW, OTHER_OID, position, sign_in, world
from tests.support import updates

DOCTOR_TG = 7_100
OTHER_TG = 7_200
DRAFT = {
    "drug": "D012", "dose": "1", "times_per_day": 2, "days": 30, "route": "oral", "quantity": 60,
    "validity_days": 60, "consent": True,
}


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
def qflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    return flow


async def submit(flow: Flow, crypto: Crypto, **fields: object) -> int:
    args: dict[str, object] = {"author": "nurse", "draft": DRAFT, "submission_key": "k1"} | fields
    async with UnitOfWork(flow.session_maker) as uow:
        service = ApprovalService(PrescriptionService(uow, crypto.cipher, crypto.index, LocalKeySigner(crypto.cipher)))
        result = await service.submit(**args)  # type: ignore[arg-type]
        return result.document_id


async def status(flow: Flow, doc: int) -> str:
    async with flow.engine.connect() as conn:
        return str((await conn.execute(text(f"SELECT status FROM medical_documents WHERE id = {doc}"))).scalar())


async def setup(flow: Flow, crypto: Crypto) -> tuple[int, int, int]:
    w = await world(flow, crypto)
    doctor_id = await sign_in(flow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000700001")
    await sign_in(flow, OTHER_TG, [position(OTHER_OID)], esia_oid="1000700002")
    return w.moscow, w.anna, doctor_id


def alert(flow: Flow) -> str:
    [answer] = flow.session.sent(AnswerCallbackQuery)
    return str(answer.text or "")


async def test_queue_approve_all_shown_with_one_pin(qflow: Flow, crypto: Crypto) -> None:
    clinic, anna, doctor_id = await setup(qflow, crypto)
    first = await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="a")
    # The clinic system retries: the same key queues nothing new.
    assert await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="a") == first
    second = await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, author="system",
                          submission_key="b", draft=DRAFT | {"drug": "D015", "quantity": 30, "times_per_day": 1})
    async with qflow.engine.connect() as conn:
        kinds = (await conn.execute(text("SELECT kind FROM notifications"))).scalars().all()
    assert kinds == ["documents_queue", "documents_queue"]

    sent = await qflow.feed(updates.message("/queue", user_id=DOCTOR_TG))
    listing = sent.last_text()
    assert "Ожидают вашей подписи</b>: 2" in listing and "Петрова А. В." in listing
    assert "Эналаприл" in listing and "(медсестра)" in listing and "(МИС клиники)" in listing
    assert sent.sent()[0].protect_content is True

    # A draft that arrives after the list was shown is not signed by «sign all shown».
    late = await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="c")
    await qflow.feed(updates.callback(QueueCallback(action=QueueAction.APPROVE_ALL).pack(), user_id=DOCTOR_TG))
    assert "подписать 2" in qflow.session.last_text()
    sent = await qflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1 and "Подписано: 2" in sent.last_text()
    sent = await qflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1 and "уже подписаны" in sent.last_text()
    assert [await status(qflow, d) for d in (first, second, late)] == ["signed", "signed", "draft"]
    async with UnitOfWork(qflow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(first)
    assert record is not None and verify_record(record).ok


async def test_card_highlights_changes_and_reject_needs_a_reason(qflow: Flow, crypto: Crypto) -> None:
    clinic, anna, doctor_id = await setup(qflow, crypto)
    first = await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="a")
    await qflow.feed(updates.callback(QueueCallback(action=QueueAction.APPROVE, doc=first).pack(), user_id=DOCTOR_TG))
    await qflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert await status(qflow, first) == "signed"
    renewal = await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="r",
                           previous_id=first, draft=DRAFT | {"dose": "2", "quantity": 120})
    sent = await qflow.feed(updates.callback(QueueCallback(action=QueueAction.OPEN, doc=renewal).pack(),
                                             user_id=DOCTOR_TG))
    card = sent.last_text()
    assert "версия 2" in card and "✏️ <u>Доза: 2 таблетка</u>" in card and "✏️ <u>Количество: 120" in card
    assert "✏️ <u>Кратность" not in card

    await qflow.feed(updates.callback(QueueCallback(action=QueueAction.REJECT, doc=renewal).pack(), user_id=DOCTOR_TG))
    assert "несколькими словами" in (await qflow.feed(updates.message("ну", user_id=DOCTOR_TG))).last_text()
    sent = await qflow.feed(updates.message("Доза завышена, оставить прежнюю", user_id=DOCTOR_TG))
    assert "отклонён" in sent.last_text()
    async with UnitOfWork(qflow.session_maker) as uow:
        record = await MedicalDocumentRepository(uow.session, crypto.cipher).get(renewal)
    assert record is not None and record.status == "rejected" and record.reject_reason == "Доза завышена, оставить прежнюю"
    async with qflow.engine.connect() as conn:
        raw = (await conn.execute(text(f"SELECT reject_reason FROM medical_documents WHERE id = {renewal}"))).scalar()
    assert "Доза" not in str(raw)


async def test_forged_approval_of_another_doctors_draft_is_denied_and_audited(qflow: Flow, crypto: Crypto) -> None:
    clinic, anna, doctor_id = await setup(qflow, crypto)
    doc = await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="a")
    for action in (QueueAction.APPROVE, QueueAction.OPEN, QueueAction.REJECT):
        await qflow.feed(updates.callback(QueueCallback(action=action, doc=doc).pack(), user_id=OTHER_TG))
        assert "не найден среди ваших" in alert(qflow)
    assert await status(qflow, doc) == "draft"
    assert ("approval_view", "denied") in await audit_ops(qflow)


async def test_bad_submissions_are_refused(qflow: Flow, crypto: Crypto) -> None:
    clinic, anna, doctor_id = await setup(qflow, crypto)
    base = {"clinic_id": clinic, "doctor_id": doctor_id, "patient_id": anna}
    for draft in (DRAFT | {"drug": "D037"}, DRAFT | {"dose": "0"}, DRAFT | {"days": 400}, DRAFT | {"drug": "nope"},
                  {"drug": "D012"}):
        with pytest.raises(InvalidSubmission):
            await submit(qflow, crypto, **base, draft=draft, submission_key=str(draft))
    w_other = await submit(qflow, crypto, **base, submission_key="ok")
    assert w_other
    with pytest.raises(InvalidSubmission):  # a patient of another clinic
        await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna + 100, submission_key="x")


async def test_queue_count_is_a_morning_brief_line_with_a_button(qflow: Flow, crypto: Crypto) -> None:
    clinic, anna, doctor_id = await setup(qflow, crypto)
    await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="a")
    await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=anna, submission_key="b")
    target = Target(doctor_id, DOCTOR_TG, "ru", "Europe/Moscow", None, frozenset(), None, None)
    async with UnitOfWork(qflow.session_maker) as uow:
        lines = await approvals_section(uow, target, date(2026, 12, 10))
    assert [(line.section, line.params) for line in lines] == [("approvals", {"count": 2})]
    register()
    payload = {"date": "2026-12-10", "locale": "ru", "lines": [{"section": "approvals", "count": 2}]}
    text_, markup = render_notification(make_i18n(LOCALES), 1, "morning_brief", payload)
    assert "Черновики на подпись: 2" in text_
    assert markup is not None
    datas = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert QueueCallback(action=QueueAction.LIST).pack() in datas


async def test_demo_seed_queues_nurse_drafts_once(qflow: Flow, crypto: Crypto) -> None:
    from services.demo_seed import DemoSeedService

    for _ in range(2):
        async with UnitOfWork(qflow.session_maker) as uow:
            await DemoSeedService(uow, crypto.cipher, crypto.index).seed()
    async with qflow.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT author, status FROM medical_documents"))).all()
    assert [tuple(r) for r in rows] == [("nurse", "draft"), ("nurse", "draft")]


async def test_the_queue_is_read_in_the_same_few_queries_however_long(qflow: Flow, crypto: Crypto) -> None:
    clinic, anna, doctor_id = await setup(qflow, crypto)
    async with qflow.session_maker() as session:
        patients = PatientRepository(session, crypto.cipher, crypto.index)
        others = [(await patients.add(clinic, PatientData(f"Пациентова{i}", "Анна", None, date(1980, 1, 1 + i)))).id for i in range(5)]
        await session.commit()
    counts: list[int] = []
    submitted = 0
    for size in (1, 6):
        while submitted < size:
            patient = ([anna, *others])[submitted]
            submitted += 1
            await submit(qflow, crypto, clinic_id=clinic, doctor_id=doctor_id, patient_id=patient, submission_key=f"k{submitted}")
        selects: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                selects.append(statement)

        event.listen(qflow.engine.sync_engine, "before_cursor_execute", count)
        try:
            listing = (await qflow.feed(updates.message("/queue", user_id=DOCTOR_TG))).last_text()
        finally:
            event.remove(qflow.engine.sync_engine, "before_cursor_execute", count)
        assert f"Ожидают вашей подписи</b>: {size}" in listing
        counts.append(len(selects))
    assert counts[0] == counts[1], counts  # not one more per draft and patient
