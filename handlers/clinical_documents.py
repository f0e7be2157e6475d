"""/document: a certificate, conclusion or visit protocol from the clinic's templates — one question
per field, a preview, the PIN, and the signed PDF sent back as a file (protected)."""

from __future__ import annotations

from enum import StrEnum
from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction
from handlers.draft_entry import DraftEntry, continue_label, open_drafts_keyboard
from handlers.draft_steps import DraftSteps
from handlers.filters import magic
from handlers.pin_signing import PinSigning, signed_keyboard
from services.clinical_documents import ClinicalDocumentService, Question
from services.medical_documents import OpenDraft, SignOutcome


class DocAction(StrEnum):
    PATIENT = "patient"
    TEMPLATE = "tpl"
    SIGN = "sign"
    BACK = "back"
    CORRECT = "correct"
    NEW = "new"
    RESUME = "resume"
    DISCARD = "discard"


class DocCallback(CallbackData, prefix="doc"):
    action: DocAction
    doc: int = 0
    arg: str = ""


class DocFlow(StatesGroup):
    patient = State()
    field = State()
    review = State()
    pin = State()
    done = State()


def _button(text: str, action: DocAction, doc: int = 0, arg: str | int = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=DocCallback(action=action, doc=doc, arg=str(arg)).pack())


def drafts_keyboard(drafts: list[OpenDraft]) -> InlineKeyboardMarkup:
    return open_drafts_keyboard([(d.document_id, continue_label(d)) for d in drafts], _("➕ New document"),
                                lambda text, action, doc: _button(text, DocAction(action), doc))


def pick_button(text: str, patient_id: int) -> InlineKeyboardButton:
    return _button(text, DocAction.PATIENT, 0, patient_id)


def patient_prompt() -> str:
    return _("<b>New medical document</b>\n\nSend the patient's surname or policy number. To stop: /cancel")


async def show(message: Message, state: FSMContext, service: ClinicalDocumentService, tg: int, doc: int,
               question: Question | None) -> None:
    back = [_button(_("« Back"), DocAction.BACK, doc)]
    await state.update_data(document=doc)
    if question is not None:
        await state.set_state(DocFlow.field)
        hint = _(" (МКБ-10 code, e.g. J06.9)") if question.kind == "icd10" else ""
        await message.answer(
            _("Question {number} of {total}: <b>{label}</b>{hint}").format(
                number=question.index + 1, total=question.total, label=escape(question.label), hint=hint
            ),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[back]),
        )
        return
    await state.set_state(DocFlow.review)
    preview = await service.preview(tg, doc)
    await message.answer(
        f"<b>{escape(preview.title)} № {preview.document_id}</b>\n\n{escape(preview.text)}",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_button(_("✍️ Sign with the PIN"), DocAction.SIGN, doc)],
                                                           back]),
        protect_content=True,
    )


def get_router() -> Router:
    router = Router(name="clinical_documents")

    DraftEntry(
        command="document",
        menu_action=MenuAction.DOCUMENTS,
        service="documents",
        patient_state=DocFlow.patient,
        unfinished=lambda: _("You have unfinished documents:"),
        drafts_keyboard=drafts_keyboard,
        patient_prompt=patient_prompt,
        pick_button=pick_button,
    ).register(router, DocCallback.filter(F.action == DocAction.NEW), DocCallback.filter(F.action == DocAction.DISCARD))

    # A document's step is the next question (None: every field is filled, the preview).
    steps = DraftSteps(service="documents", state_key="document", show_step=show, corrected_at=None)
    steps.move_button(router, DocCallback.filter(F.action == DocAction.RESUME), ClinicalDocumentService.question)

    @router.callback_query(DocCallback.filter(F.action == DocAction.PATIENT))
    async def patient_chosen(query: CallbackQuery, callback_data: DocCallback,
                             documents: ClinicalDocumentService) -> None:
        if not callback_data.arg.isdigit():
            await query.answer(_("This button is out of date."), show_alert=True)
            return
        patient_id = int(callback_data.arg)
        choices = await documents.templates(query.from_user.id, patient_id)
        await query.answer()
        assert isinstance(query.message, Message)
        rows = [[_button(c.title, DocAction.TEMPLATE, patient_id, c.template_id)] for c in choices]
        await query.message.answer(_("Which document?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))

    @router.callback_query(DocCallback.filter(F.action == DocAction.TEMPLATE))
    async def template_chosen(query: CallbackQuery, callback_data: DocCallback, state: FSMContext,
                              documents: ClinicalDocumentService) -> None:
        # Here ``doc`` carries the patient and ``arg`` the template (before there is a document).
        if not callback_data.arg.isdigit():
            await query.answer(_("This button is out of date."), show_alert=True)
            return
        doc = await documents.start(query.from_user.id, callback_data.doc, int(callback_data.arg))
        await query.answer()
        assert isinstance(query.message, Message)
        await show(query.message, state, documents, query.from_user.id, doc,
                   await documents.question(query.from_user.id, doc))

    @router.message(StateFilter(DocFlow.field), magic(F.text & ~F.text.startswith("/")))
    async def answer(message: Message, state: FSMContext, documents: ClinicalDocumentService) -> None:
        assert message.from_user is not None and message.text is not None
        doc = await steps.current(state)
        question = await documents.answer(message.from_user.id, doc, message.text)
        await show(message, state, documents, message.from_user.id, doc, question)

    steps.move_button(router, DocCallback.filter(F.action == DocAction.BACK), ClinicalDocumentService.back)

    async def signed(message: Message, doc: int, result: tuple[SignOutcome, bytes, str]) -> None:
        _outcome, pdf, filename = result
        await message.answer_document(
            BufferedInputFile(pdf, filename),
            caption=_("✅ Document № {number} is signed and stored.").format(number=doc),
            protect_content=True,
            reply_markup=signed_keyboard(_button(_("✏️ Correct (new version)"), DocAction.CORRECT, doc)),
        )

    PinSigning(
        service="documents",
        state_key="document",
        pin_state=DocFlow.pin,
        done_state=DocFlow.done,
        check=ClinicalDocumentService.preview,
        sign=ClinicalDocumentService.sign,
        pin_prompt=lambda: _("Enter your PIN to sign the document. The message is deleted at once."),
        already_signed=lambda: _("This document is already signed."),
        signed=signed,
        outcome_of=lambda result: result[0],  # sign returns (outcome, PDF, file name)
    ).register(router, DocCallback.filter(F.action == DocAction.SIGN))

    steps.correct_button(router, DocCallback.filter(F.action == DocAction.CORRECT))

    return router
