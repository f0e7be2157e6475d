"""Follow-ups of the documents feature: /help lists the document commands (ru and en); referral and
document drafts are continued or deleted from the main menu, also after a restart."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.keys import Crypto
from handlers.callbacks import LanguageCallback, MenuAction, MenuCallback
from handlers.clinical_documents import DocAction, DocCallback
from handlers.referrals import RefAction, RefCallback, RefFlow
from services.patients import PatientLookupService
from services.preferences import Language
from storage.fsm import SQLStorage
from tests.flow.conftest import Flow, make_test_crypto
from tests.flow.test_identity_flows import audit_ops
from tests.flow.test_patients import MOSCOW_OID, NOW, position, sign_in, state_of, world
from tests.flow.test_prescriptions import buttons
from tests.support import updates

DOCUMENT_COMMANDS = ("/prescription", "/queue", "/referral", "/document", "/my_documents")


async def test_help_lists_the_document_commands_in_russian_and_english(flow: Flow) -> None:
    ru = (await flow.feed(updates.message("/help", user_id=7_101))).last_text()
    for command in DOCUMENT_COMMANDS:
        assert command in ru
    assert "/referral — оформить направление (057/у)" in ru
    assert "/my_documents — ваши документы и их статус в МИС клиники" in ru
    assert "/templates — шаблоны медицинских документов клиники" in ru
    await flow.feed(updates.message("/start", user_id=7_102))
    await flow.feed(updates.callback(LanguageCallback(language=Language.EN).pack(), user_id=7_102))
    en = (await flow.feed(updates.message("/help", user_id=7_102))).last_text()
    assert "/queue — drafts waiting for your signature" in en
    assert "/document — a certificate, conclusion or visit protocol" in en
    assert "/templates — the clinic's document templates" in en


# --- drafts of referrals and documents resumed from the main menu ------------------------------

DOCTOR_TG = 7_300
OTHER_TG = 7_301


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
def cflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    return flow


def find(flow: Flow, prefix: str, label: str) -> str:
    for text_, data in buttons(flow):
        if data.startswith(prefix) and label in text_:
            return data
    raise AssertionError(f"no «{label}» button among {buttons(flow)}")


async def say(flow: Flow, text_: str, tg: int = DOCTOR_TG) -> str:
    return (await flow.feed(updates.message(text_, user_id=tg))).last_text()


async def press(flow: Flow, data: str, tg: int = DOCTOR_TG) -> None:
    await flow.feed(updates.callback(data, user_id=tg))


async def restart(flow: Flow, crypto: Crypto) -> None:
    """A new process: a new dispatcher and FSM storage over the same database."""
    flow.storage = SQLStorage(flow.session_maker)
    flow.dp = flow.dispatcher(crypto)


async def statuses(flow: Flow) -> list[str]:
    async with flow.engine.connect() as conn:
        return list((await conn.execute(text("SELECT status FROM medical_documents ORDER BY id"))).scalars())


async def test_referral_draft_is_resumed_from_the_main_menu_after_a_restart(cflow: Flow, crypto: Crypto) -> None:
    await world(cflow, crypto)
    await sign_in(cflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000730001")
    await press(cflow, MenuCallback(action=MenuAction.REFERRALS).pack())
    assert "Новое направление" in cflow.session.last_text()  # no drafts yet: straight to the patient
    await say(cflow, "Петрова")
    await press(cflow, find(cflow, "ref:", "Петрова А. В."))
    await press(cflow, find(cflow, "ref:", "Консультация"))
    await say(cflow, "ГКБ № 52, кардиология")
    await say(cflow, "/cancel")
    await restart(cflow, crypto)

    await say(cflow, "/start")
    await press(cflow, find(cflow, "menu:", "📨 Направление"))
    assert "незавершённые направления" in cflow.session.last_text()
    assert [t for t, _ in buttons(cflow)][:2] == ["▶️ Продолжить № 1: ГКБ № 52, кардиология", "🗑"]
    await press(cflow, find(cflow, "ref:", "Продолжить"))
    assert "МКБ-10" in cflow.session.last_text()  # the diagnosis step, where it was left
    assert await state_of(cflow, DOCTOR_TG) == RefFlow.diagnosis.state

    # Another doctor's forged «Продолжить» / «Удалить»: denied, audited, nothing changed.
    await sign_in(cflow, OTHER_TG, [position(MOSCOW_OID)], esia_oid="1000730002")
    await press(cflow, RefCallback(action=RefAction.RESUME, doc=1).pack(), tg=OTHER_TG)
    await press(cflow, RefCallback(action=RefAction.DISCARD, doc=1).pack(), tg=OTHER_TG)
    ops = await audit_ops(cflow)
    assert ("referral_edit", "denied") in ops and ("referral_discard", "denied") in ops
    assert await statuses(cflow) == ["draft"]

    # «Удалить черновик»: gone from the list, /referral starts anew.
    await say(cflow, "/referral")
    await press(cflow, find(cflow, "ref:", "🗑"))
    assert await statuses(cflow) == ["discarded"]
    assert "Новое направление" in await say(cflow, "/referral")
    assert ("referral_discard", "ok") in await audit_ops(cflow)


async def test_document_draft_is_resumed_from_the_main_menu_after_a_restart(cflow: Flow, crypto: Crypto) -> None:
    await world(cflow, crypto)
    await sign_in(cflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000730001")
    await press(cflow, MenuCallback(action=MenuAction.DOCUMENTS).pack())
    await say(cflow, "Петрова")
    await press(cflow, find(cflow, "doc:", "Петрова А. В."))
    await press(cflow, find(cflow, "doc:", "Справка"))
    await say(cflow, "по месту учёбы")
    assert "Вопрос 2 из 3" in cflow.session.last_text()
    await restart(cflow, crypto)
    await say(cflow, "/cancel")

    await say(cflow, "/start")
    await press(cflow, find(cflow, "menu:", "📄 Документ"))
    assert "незавершённые документы" in cflow.session.last_text()
    await press(cflow, find(cflow, "doc:", "Продолжить № 1"))
    assert "Вопрос 2 из 3" in cflow.session.last_text()
    await say(cflow, "с 01.12.2026 по 10.12.2026")
    await say(cflow, "J06.9")
    assert "по месту учёбы" in cflow.session.last_text()  # the preview keeps the first answer

    await press(cflow, DocCallback(action=DocAction.DISCARD, doc=1).pack(), tg=OTHER_TG)
    assert await statuses(cflow) == ["draft"]
    await say(cflow, "/document")
    await press(cflow, find(cflow, "doc:", "🗑"))
    assert await statuses(cflow) == ["discarded"]
    # A discarded draft cannot be resumed by an old button.
    await press(cflow, DocCallback(action=DocAction.RESUME, doc=1).pack())
    assert await state_of(cflow, DOCTOR_TG) is None
