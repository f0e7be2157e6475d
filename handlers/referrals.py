"""/referral: form 057/у step by step — patient, kind, organisation or service, diagnosis by
МКБ-10 code or words, urgency, justification — signed with the PIN. «Назад» and /cancel work at
every step; the draft is stored after each one."""

from __future__ import annotations

from enum import StrEnum
from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction
from handlers.draft_entry import DraftEntry, continue_label, open_drafts_keyboard
from handlers.draft_steps import DraftSteps
from handlers.filters import magic
from handlers.pin_signing import PinSigning, signed_keyboard
from services.medical_documents import OpenDraft
from services.referrals import ReferralReview, ReferralService


class RefAction(StrEnum):
    PATIENT = "patient"
    KIND = "kind"
    DIAGNOSIS = "dx"
    PRIORITY = "prio"
    SIGN = "sign"
    BACK = "back"
    CORRECT = "correct"
    NEW = "new"
    RESUME = "resume"
    DISCARD = "discard"


class RefCallback(CallbackData, prefix="ref"):
    action: RefAction
    doc: int = 0
    arg: str = ""


class RefFlow(StatesGroup):
    patient = State()
    kind = State()
    service = State()
    diagnosis = State()
    priority = State()
    justification = State()
    review = State()
    pin = State()
    done = State()


STATE_OF_STEP = {
    "kind": RefFlow.kind,
    "service": RefFlow.service,
    "diagnosis": RefFlow.diagnosis,
    "priority": RefFlow.priority,
    "justification": RefFlow.justification,
    "review": RefFlow.review,
}


def kind_names() -> dict[str, str]:
    return {
        "lab": _("🧪 Laboratory tests"),
        "instrumental": _("🩻 Instrumental diagnostics"),
        "consultation": _("👩‍⚕️ Consultation"),
        "hospitalisation": _("🏥 Hospitalisation"),
    }


def priority_names() -> dict[str, str]:
    return {"routine": _("Routine"), "urgent": _("Urgent"), "asap": _("Emergency (as soon as possible)")}


def _button(text: str, action: RefAction, doc: int = 0, arg: str | int = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=RefCallback(action=action, doc=doc, arg=str(arg)).pack())


def _keyboard(doc: int, *rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [_button(_("« Back"), RefAction.BACK, doc)]])


def render_referral(review: ReferralReview) -> str:
    return "\n".join(
        [
            _("<b>Referral № {number}</b> (form 057/у, version {version})").format(
                number=review.document_id, version=review.version
            ),
            "",
            _("Patient: {patient}").format(patient=escape(review.patient)),
            _("Kind: {kind}").format(kind=kind_names().get(review.kind, review.kind)),
            _("Where: {service}").format(service=escape(review.service)),
            _("Diagnosis: {code} {name}").format(code=review.diagnosis, name=escape(review.diagnosis_name)),
            _("Urgency: {priority}").format(priority=priority_names().get(review.priority, review.priority)),
            _("Justification: {text}").format(text=escape(review.justification)),
        ]
    )


def drafts_keyboard(drafts: list[OpenDraft]) -> InlineKeyboardMarkup:
    return open_drafts_keyboard([(d.document_id, continue_label(d)) for d in drafts], _("➕ New referral"),
                                lambda text, action, doc: _button(text, RefAction(action), doc))


def pick_button(text: str, patient_id: int) -> InlineKeyboardButton:
    return _button(text, RefAction.PATIENT, 0, patient_id)


def patient_prompt() -> str:
    return _("<b>New referral</b>\n\nSend the patient's surname or policy number. To stop: /cancel")


async def show_step(message: Message, state: FSMContext, service: ReferralService, tg: int, doc: int,
                    step: str) -> None:
    await state.set_state(STATE_OF_STEP.get(step, RefFlow.kind))
    await state.update_data(ref=doc)
    if step == "kind":
        rows = [[_button(name, RefAction.KIND, doc, code)] for code, name in kind_names().items()]
        await message.answer(_("What is the referral for?"), reply_markup=_keyboard(doc, *rows))
    elif step == "service":
        await message.answer(_("Receiving organisation or service (e.g. «ГКБ № 52, кардиология» or «ОАК»):"),
                             reply_markup=_keyboard(doc))
    elif step == "diagnosis":
        await message.answer(_("Diagnosis: send the МКБ-10 code (e.g. I10) or words from the diagnosis."),
                             reply_markup=_keyboard(doc))
    elif step == "priority":
        rows = [[_button(name, RefAction.PRIORITY, doc, code)] for code, name in priority_names().items()]
        await message.answer(_("Urgency?"), reply_markup=_keyboard(doc, *rows))
    elif step == "justification":
        await message.answer(_("Justification (complaints, findings, purpose of the referral):"),
                             reply_markup=_keyboard(doc))
    else:
        review = await service.review(tg, doc)
        await message.answer(render_referral(review),
                             reply_markup=_keyboard(doc, [_button(_("✍️ Sign with the PIN"), RefAction.SIGN, doc)]),
                             protect_content=True)


def get_router() -> Router:
    router = Router(name="referrals")

    DraftEntry(
        command="referral",
        menu_action=MenuAction.REFERRALS,
        service="referrals",
        patient_state=RefFlow.patient,
        unfinished=lambda: _("You have unfinished referrals:"),
        drafts_keyboard=drafts_keyboard,
        patient_prompt=patient_prompt,
        pick_button=pick_button,
    ).register(router, RefCallback.filter(F.action == RefAction.NEW), RefCallback.filter(F.action == RefAction.DISCARD))

    steps = DraftSteps(service="referrals", state_key="ref", show_step=show_step, corrected_at="review")
    steps.move_button(router, RefCallback.filter(F.action == RefAction.RESUME), ReferralService.resume)

    @router.callback_query(RefCallback.filter(F.action == RefAction.PATIENT))
    async def patient_chosen(query: CallbackQuery, callback_data: RefCallback, state: FSMContext,
                             referrals: ReferralService) -> None:
        if not callback_data.arg.isdigit():
            await query.answer(_("This button is out of date."), show_alert=True)
            return
        doc = await referrals.start(query.from_user.id, int(callback_data.arg))
        await query.answer()
        assert isinstance(query.message, Message)
        await show_step(query.message, state, referrals, query.from_user.id, doc, "kind")

    @router.callback_query(RefCallback.filter(F.action.in_({RefAction.KIND, RefAction.PRIORITY,
                                                             RefAction.DIAGNOSIS})))
    async def choice(query: CallbackQuery, callback_data: RefCallback, state: FSMContext,
                     referrals: ReferralService) -> None:
        tg, doc, arg = query.from_user.id, callback_data.doc, callback_data.arg
        if callback_data.action == RefAction.KIND:
            await referrals.set_kind(tg, doc, arg)
            step = "service"
        elif callback_data.action == RefAction.DIAGNOSIS:
            await referrals.set_diagnosis(tg, doc, arg)
            step = "priority"
        else:
            await referrals.set_priority(tg, doc, arg)
            step = "justification"
        await query.answer()
        assert isinstance(query.message, Message)
        await show_step(query.message, state, referrals, tg, doc, step)

    steps.text_step(router, RefFlow.service, ReferralService.set_service, "diagnosis")

    @router.message(StateFilter(RefFlow.diagnosis), magic(F.text & ~F.text.startswith("/")))
    async def diagnosis_text(message: Message, state: FSMContext, referrals: ReferralService) -> None:
        assert message.from_user is not None and message.text is not None
        doc = await steps.current(state)
        found = referrals.find_diagnoses(message.text)
        rows = [[_button(f"{d.code} {d.name}"[:60], RefAction.DIAGNOSIS, doc, d.code)] for d in found]
        await message.answer(_("Choose the diagnosis:"), reply_markup=_keyboard(doc, *rows))

    steps.text_step(router, RefFlow.justification, ReferralService.set_justification, "review")
    steps.move_button(router, RefCallback.filter(F.action == RefAction.BACK), ReferralService.back)

    async def signed(message: Message, doc: int, _outcome: object) -> None:
        await message.answer(_("✅ Referral № {number} is signed.").format(number=doc),
                             reply_markup=signed_keyboard(_button(_("✏️ Correct (new version)"), RefAction.CORRECT, doc)))

    PinSigning(
        service="referrals",
        state_key="ref",
        pin_state=RefFlow.pin,
        done_state=RefFlow.done,
        check=ReferralService.review,
        sign=ReferralService.sign,
        pin_prompt=lambda: _("Enter your PIN to sign the referral. The message is deleted at once."),
        already_signed=lambda: _("This referral is already signed."),
        signed=signed,
    ).register(router, RefCallback.filter(F.action == RefAction.SIGN))

    steps.correct_button(router, RefCallback.filter(F.action == RefAction.CORRECT))

    return router
