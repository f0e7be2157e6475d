"""Follow-ups of the documents feature: /help lists the document commands, in Russian and English."""

from __future__ import annotations

from handlers.callbacks import LanguageCallback
from services.preferences import Language
from tests.flow.conftest import Flow
from tests.support import updates

DOCUMENT_COMMANDS = ("/prescription", "/queue", "/referral", "/document", "/my_documents")


async def test_help_lists_the_document_commands_in_russian_and_english(flow: Flow) -> None:
    ru = (await flow.feed(updates.message("/help", user_id=7_101))).last_text()
    for command in DOCUMENT_COMMANDS:
        assert command in ru
    assert "/referral — оформить направление (057/у)" in ru
    assert "/my_documents — ваши документы и их статус в МИС клиники" in ru
    await flow.feed(updates.message("/start", user_id=7_102))
    await flow.feed(updates.callback(LanguageCallback(language=Language.EN).pack(), user_id=7_102))
    en = (await flow.feed(updates.message("/help", user_id=7_102))).last_text()
    assert "/queue — drafts waiting for your signature" in en
    assert "/document — a certificate, conclusion or visit protocol" in en
