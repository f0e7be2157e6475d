"""/my_documents: the doctor's recent prescriptions, referrals and documents with their status."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.clinical_documents import DocAction, DocCallback
from handlers.document_status import MyDocumentsCallback, kind_name
from handlers.prescriptions import RxAction, RxCallback
from handlers.referrals import RefAction, RefCallback
from services.medical_documents import DocumentStatusService, StatusLine


def correct_button(line: StatusLine) -> InlineKeyboardButton:
    """A rejected item is corrected by a new version, in the conversation of its kind."""
    data = {
        "prescription": RxCallback(action=RxAction.CORRECT, doc=line.document_id),
        "referral": RefCallback(action=RefAction.CORRECT, doc=line.document_id),
    }.get(line.kind) or DocCallback(action=DocAction.CORRECT, doc=line.document_id)
    return InlineKeyboardButton(text=_("✏️ Correct № {number}").format(number=line.document_id), callback_data=data.pack())


def status_name(status: str) -> str:
    return {
        "draft": _("📝 draft"),
        "signed": _("✍️ signed, waiting to be sent"),
        "sent": _("📤 sent to the clinic system"),
        "accepted": _("✅ accepted"),
        "rejected": _("❌ rejected"),
    }.get(status, status)


def render_line(line: StatusLine) -> str:
    text = _("{kind} № {number} (v{version}) — {title}: {status}").format(
        kind=kind_name(line.kind), number=line.document_id, version=line.version, title=escape(line.title[:60]),
        status=status_name(line.status),
    )
    if line.reason:
        text += " — " + escape(line.reason[:200])
    return text


async def show_list(message: Message, user_id: int, document_status: DocumentStatusService) -> None:
    lines = await document_status.recent(user_id)
    if not lines:
        await message.answer(_("You have no prescriptions, referrals or documents yet."))
        return
    rows = [[correct_button(line)] for line in lines if line.status == "rejected"]
    await message.answer(
        "\n".join([_("<b>My documents</b>"), "", *(render_line(line) for line in lines)]),
        protect_content=True,
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None,
    )


def get_router() -> Router:
    router = Router(name="document_list")

    @router.message(Command("my_documents"))
    async def my_documents(message: Message, document_status: DocumentStatusService) -> None:
        assert message.from_user is not None
        await show_list(message, message.from_user.id, document_status)

    @router.callback_query(MyDocumentsCallback.filter())
    async def my_documents_button(query: CallbackQuery, document_status: DocumentStatusService) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            await show_list(query.message, query.from_user.id, document_status)

    return router
