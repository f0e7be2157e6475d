"""/templates through the dispatcher: the clinic administrator lists, views, edits (title, fields,
text — each checked) and resets the clinic's document templates; drafts already started keep their
copy; non-administrators and forged clinic ids are denied and audited; no patient data is shown."""

from __future__ import annotations

import pytest
from aiogram.methods import AnswerCallbackQuery
from sqlalchemy import text

from bot.keys import Crypto
from handlers.clinical_documents import DocAction, DocCallback
from handlers.templates import TplAction, TplCallback, TplFlow
from services.patients import PatientLookupService
from storage.models.clinic_role import Role
from tests.flow.conftest import Flow, make_test_crypto
from tests.flow.test_identity_flows import audit_ops
from tests.flow.test_patients import MOSCOW_OID, NOW, OTHER_OID, position, sign_in, state_of, world
from tests.flow.test_prescriptions import buttons
from tests.support import updates

ADMIN_TG = 7_500
DOCTOR_TG = 7_501
SEEN_BY_ADMIN: list[str] = []


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
def tflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    SEEN_BY_ADMIN.clear()
    return flow


async def say(flow: Flow, text_: str, tg: int = ADMIN_TG) -> str:
    sent = await flow.feed(updates.message(text_, user_id=tg))
    if tg == ADMIN_TG:
        SEEN_BY_ADMIN.extend(sent.texts())
    return sent.texts()[-1] if sent.texts() else ""


async def press(flow: Flow, data: str, tg: int = ADMIN_TG) -> str:
    sent = await flow.feed(updates.callback(data, user_id=tg))
    texts = sent.texts() + [str(a.text) for a in sent.sent(AnswerCallbackQuery) if a.text]
    if tg == ADMIN_TG:
        SEEN_BY_ADMIN.extend(texts)
    return texts[-1] if texts else ""


def find(flow: Flow, prefix: str, label: str) -> str:
    for text_, data in buttons(flow):
        if data.startswith(prefix) and label in text_:
            return data
    raise AssertionError(f"no «{label}» button among {buttons(flow)}")


def titles(flow: Flow) -> list[str]:
    return [t for t, d in buttons(flow) if d.startswith("tpl:") and TplCallback.unpack(d).action == TplAction.OPEN]


async def test_administrator_edits_a_template_and_started_drafts_keep_their_copy(tflow: Flow, crypto: Crypto) -> None:
    w = await world(tflow, crypto)
    await sign_in(tflow, ADMIN_TG, [position(MOSCOW_OID, Role.ADMIN)], esia_oid="1000750001")
    await sign_in(tflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000750002")
    # A doctor's draft from the default «Справка», one answer given.
    await say(tflow, "/document", DOCTOR_TG)
    await say(tflow, "Петрова", DOCTOR_TG)
    await press(tflow, find(tflow, "doc:", "Петрова А. В."), DOCTOR_TG)
    await press(tflow, find(tflow, "doc:", "Справка"), DOCTOR_TG)
    await say(tflow, "по месту учёбы", DOCTOR_TG)

    listing = await say(tflow, "/templates")
    assert "Шаблоны документов" in listing
    assert titles(tflow) == ["📄 Справка", "📄 Медицинское заключение", "📄 Протокол осмотра"]
    card = await press(tflow, find(tflow, "tpl:", "Справка"))
    assert "<b>Справка</b> (стандартный)" in card and "<code>purpose</code> — Для предъявления куда, текст, 200" in card
    assert "Дана пациенту {patient}" in card
    assert "↩️ Вернуть стандартный" not in [t for t, _ in buttons(tflow)]

    # Title.
    await press(tflow, find(tflow, "tpl:", "✏️ Название"))
    assert "не больше 120 символов" in await say(tflow, "С" * 121)
    assert await state_of(tflow, ADMIN_TG) == TplFlow.title.state
    await say(tflow, "  Справка   для бассейна ")
    assert "Сохранено как версия клиники" in SEEN_BY_ADMIN[-2]
    assert "<b>Справка для бассейна</b> (версия клиники)" in SEEN_BY_ADMIN[-1]

    # Fields: each mistake says what to fix and keeps the step; then a field is added.
    await press(tflow, find(tflow, "tpl:", "✏️ Поля"))
    assert "purpose | Для предъявления куда | text | 200" in SEEN_BY_ADMIN[-1]
    assert "Ключ «note» встречается дважды" in await say(tflow, "note | Примечание\nnote | Ещё")
    assert "Строка 1: ключ пишется строчными латинскими" in await say(tflow, "Примечание | Примечание")
    assert "«patient» бот заполняет сам" in await say(tflow, "patient | ФИО")
    assert "тип — «text» или «icd10»" in await say(tflow, "note | Примечание | date")
    assert "длина — число от 1 до 2000" in await say(tflow, "note | Примечание | text | 5000")
    assert "подстановки без полей: {diagnosis}, {period}, {purpose}" in await say(tflow, "note | Примечание | text | 300")
    assert await state_of(tflow, ADMIN_TG) == TplFlow.fields.state
    await say(tflow, "purpose | Для предъявления куда | text | 200\nperiod | Период\n"
                     "diagnosis | Диагноз | icd10\nnote | Примечание | text | 300")
    assert "<code>note</code> — Примечание, текст, 300" in SEEN_BY_ADMIN[-1]
    assert "<code>diagnosis</code> — Диагноз, код МКБ-10, 10" in SEEN_BY_ADMIN[-1]

    # Text: placeholders must be fields.
    await press(tflow, find(tflow, "tpl:", "✏️ Текст"))
    assert "подстановки без полей: {pool}" in await say(tflow, "{patient} может посещать {pool}.")
    assert "скобка не закрыта" in await say(tflow, "{patient может посещать бассейн.")
    assert "«{0}» — не подстановка" in await say(tflow, "{patient} {0}")
    await say(tflow, "{patient} может посещать бассейн. {note}")
    # Then the fields the text no longer uses are removed.
    await press(tflow, find(tflow, "tpl:", "✏️ Поля"))
    await say(tflow, "note | Примечание | text | 300")
    assert "Примечание" in SEEN_BY_ADMIN[-1] and "purpose" not in SEEN_BY_ADMIN[-1]

    async with tflow.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT clinic_id, title, body FROM document_templates "
                                        "WHERE clinic_id IS NOT NULL"))).all()
    assert rows == [(w.moscow, "Справка для бассейна", "{patient} может посещать бассейн. {note}")]

    # The doctor's draft goes on with the copy it was started with.
    await say(tflow, "/document", DOCTOR_TG)
    await press(tflow, find(tflow, "doc:", "Продолжить"), DOCTOR_TG)
    assert "Вопрос 2 из 3" in tflow.session.last_text()
    await say(tflow, "с 01.12.2026 по 10.12.2026", DOCTOR_TG)
    preview = await say(tflow, "J06.9", DOCTOR_TG)
    assert "Справка №" in preview and "по месту учёбы" in preview and "бассейн" not in preview
    # A new document uses the clinic's version.
    [sign] = [d for _t, d in buttons(tflow) if d.startswith("doc:") and DocCallback.unpack(d).action == DocAction.SIGN]
    await press(tflow, sign, DOCTOR_TG)
    await say(tflow, "2580", DOCTOR_TG)
    await say(tflow, "/document", DOCTOR_TG)
    await say(tflow, "Петрова", DOCTOR_TG)
    await press(tflow, find(tflow, "doc:", "Петрова А. В."), DOCTOR_TG)
    doc_titles = [t for t, d in buttons(tflow) if d.startswith("doc:")]
    assert "Справка для бассейна" in doc_titles and "Справка" not in doc_titles

    # Reset: the default is back, for new documents.
    await say(tflow, "/templates")
    assert titles(tflow)[0] == "✏️ Справка для бассейна"
    await press(tflow, find(tflow, "tpl:", "Справка для бассейна"))
    assert "Стандартный шаблон восстановлен" in await press(tflow, find(tflow, "tpl:", "↩️ Вернуть стандартный"))
    assert "<b>Справка</b> (стандартный)" in SEEN_BY_ADMIN[-2]
    async with tflow.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM document_templates "
                                        "WHERE clinic_id IS NOT NULL"))).scalar() == 0

    ops = await audit_ops(tflow)
    assert ops.count(("template_save", "ok")) == 4 and ("template_reset", "ok") in ops
    assert ("template_view", "ok") in ops
    # Nothing the administrator saw names a patient.
    assert SEEN_BY_ADMIN and not any("Петрова" in t or "Анна" in t for t in SEEN_BY_ADMIN)


async def test_templates_are_for_clinic_administrators_only(tflow: Flow, crypto: Crypto) -> None:
    w = await world(tflow, crypto)
    await sign_in(tflow, ADMIN_TG, [position(MOSCOW_OID, Role.ADMIN)], esia_oid="1000750001")
    await sign_in(tflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000750002")
    # A doctor (no administrator role): denied, audited, nothing shown.
    answer = await say(tflow, "/templates", DOCTOR_TG)
    assert "Шаблоны документов" not in answer
    assert ("templates", "denied") in await audit_ops(tflow)
    forged = TplCallback(action=TplAction.OPEN, clinic=w.moscow, code="certificate").pack()
    await press(tflow, forged, DOCTOR_TG)
    assert ("template_view", "denied") in await audit_ops(tflow)
    # The administrator of Moscow with a forged button for another clinic: denied and audited.
    for action in (TplAction.OPEN, TplAction.TITLE, TplAction.RESET):
        await press(tflow, TplCallback(action=action, clinic=w.other, code="certificate").pack())
    ops = await audit_ops(tflow)
    assert ("template_view", "denied") in ops and ("template_reset", "denied") in ops
    assert await state_of(tflow, ADMIN_TG) is None
    async with tflow.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM document_templates "
                                        "WHERE clinic_id IS NOT NULL"))).scalar() == 0
    # An unknown template code.
    assert "Такого шаблона нет" in await press(tflow, TplCallback(action=TplAction.OPEN, clinic=w.moscow,
                                                                  code="nope").pack())
    # The administrator role does not open patients' documents.
    await say(tflow, "/document")
    assert not any("Петрова" in t for t in SEEN_BY_ADMIN)


async def test_an_administrator_of_two_clinics_chooses_the_clinic(tflow: Flow, crypto: Crypto) -> None:
    w = await world(tflow, crypto)
    await sign_in(tflow, ADMIN_TG, [position(MOSCOW_OID, Role.ADMIN), position(OTHER_OID, Role.ADMIN)],
                  esia_oid="1000750001")
    assert "Шаблоны какой клиники?" in await say(tflow, "/templates")
    clinics = [TplCallback.unpack(d).clinic for _t, d in buttons(tflow) if d.startswith("tpl:")]
    assert sorted(clinics) == sorted([w.moscow, w.other])
    await press(tflow, TplCallback(action=TplAction.CLINIC, clinic=w.other).pack())
    assert titles(tflow) == ["📄 Справка", "📄 Медицинское заключение", "📄 Протокол осмотра"]
    # Each clinic has its own version: a change for one leaves the other on the default.
    await press(tflow, TplCallback(action=TplAction.TITLE, clinic=w.other, code="conclusion").pack())
    await say(tflow, "Заключение терапевта")
    await press(tflow, TplCallback(action=TplAction.CLINIC, clinic=w.moscow).pack())
    assert "📄 Медицинское заключение" in titles(tflow)
    await press(tflow, TplCallback(action=TplAction.CLINIC, clinic=w.other).pack())
    assert "✏️ Заключение терапевта" in titles(tflow)
