"""/prescription and «💊 Рецепт»: an electronic prescription (107-1/у), step by step, signed with the PIN.

The draft is stored by the service after every step, so the state here is only which draft the
doctor is on; «Назад» moves one step up, /cancel leaves (the draft stays and can be resumed from
the menu). Patient data goes out protected.
"""

from __future__ import annotations

from enum import StrEnum
from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from handlers import document_status
from handlers.callbacks import MenuAction
from handlers.draft_entry import DraftEntry, open_drafts_keyboard
from handlers.draft_steps import DraftSteps
from handlers.filters import magic
from handlers.menu import main_menu_keyboard
from handlers.pin_signing import PinSigning, signed_keyboard
from services.prescriptions import DraftSummary, PaperOnly, PrescriptionService, Review

ROUTE_NAMES = {
    "oral": "внутрь",
    "sublingual": "под язык",
    "inhalation": "ингаляционно",
    "topical": "наружно",
    "im": "в/м",
    "iv": "в/в",
    "sc": "п/к",
}
DURATIONS = (5, 7, 10, 14, 30)


class RxAction(StrEnum):
    NEW = "new"
    RESUME = "resume"
    DISCARD = "discard"
    PATIENT = "patient"
    DRUG = "drug"
    FREQUENCY = "freq"
    DURATION = "days"
    ROUTE = "route"
    QUANTITY = "qty"
    VALIDITY = "valid"
    CONSENT = "consent"
    REFUSE = "refuse"
    SIGN = "sign"
    BACK = "back"
    CORRECT = "correct"


class RxCallback(CallbackData, prefix="rx"):
    action: RxAction
    doc: int = 0
    arg: str = ""


class RxFlow(StatesGroup):
    patient = State()
    drug = State()
    dose = State()
    frequency = State()
    duration = State()
    route = State()
    quantity = State()
    validity = State()
    consent = State()
    review = State()
    pin = State()
    done = State()


STATE_OF_STEP = {
    "drug": RxFlow.drug,
    "dose": RxFlow.dose,
    "frequency": RxFlow.frequency,
    "duration": RxFlow.duration,
    "route": RxFlow.route,
    "quantity": RxFlow.quantity,
    "validity": RxFlow.validity,
    "consent": RxFlow.consent,
    "review": RxFlow.review,
}


def _button(text: str, action: RxAction, doc: int = 0, arg: str | int = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=RxCallback(action=action, doc=doc, arg=str(arg)).pack())


def _keyboard(doc: int, *rows: list[InlineKeyboardButton], back: bool = True) -> InlineKeyboardMarkup:
    tail = [_button(_("« Back"), RxAction.BACK, doc)] if back else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, tail] if tail else list(rows))


def render_review(review: Review) -> str:
    def mark(field: str, text: str) -> str:
        # A correction shows what differs from the signed version.
        return f"✏️ <u>{text}</u>" if field in review.changed else text

    lines = [
        _("<b>Prescription № {number}</b> (version {version}, form {form})").format(
            number=review.document_id, version=review.version, form=escape(review.form)
        ),
        "",
        _("Patient: {patient}").format(patient=escape(review.patient)),
        mark("drug", _("Drug: {drug}").format(drug=escape(review.drug))),
        mark("dose", _("Dose: {dose} {unit}").format(dose=review.dose, unit=escape(review.unit))),
        mark("times_per_day", _("Times a day: {times}").format(times=review.times_per_day)),
        mark("days", _("Course: {days} days").format(days=review.days)),
        mark("route", _("Route: {route}").format(route=ROUTE_NAMES.get(review.route, review.route))),
        mark("quantity", _("Quantity: {quantity} {unit}").format(quantity=review.quantity, unit=escape(review.unit))),
        mark("validity_days", _("Valid for: {days} days").format(days=review.validity_days)),
    ]
    if review.consent:
        lines.append(_("Patient's consent to an electronic prescription: yes"))
    return "\n".join(lines)


async def show_step(
    message: Message, state: FSMContext, rx: PrescriptionService, tg: int, doc: int, step: str
) -> None:
    """Send the prompt of ``step`` and put the conversation there."""
    await state.set_state(STATE_OF_STEP.get(step, RxFlow.drug))
    await state.update_data(rx=doc)
    if step == "drug":
        await message.answer(_("Send the drug name (international non-proprietary name), e.g. амоксициллин."),
                             reply_markup=_keyboard(doc))
    elif step == "dose":
        await message.answer(_("Single dose? For example: 1, 0.5 or «две таблетки»."), reply_markup=_keyboard(doc))
    elif step == "frequency":
        row = [_button(str(n), RxAction.FREQUENCY, doc, n) for n in (1, 2, 3, 4)]
        await message.answer(_("How many times a day? Choose or send a number."), reply_markup=_keyboard(doc, row))
    elif step == "duration":
        row = [_button(str(n), RxAction.DURATION, doc, n) for n in DURATIONS]
        await message.answer(_("Course length in days? Choose or send, e.g. «2 недели»."),
                             reply_markup=_keyboard(doc, row))
    elif step == "route":
        names = list(ROUTE_NAMES.items())
        rows = [[_button(name, RxAction.ROUTE, doc, code) for code, name in names[i : i + 4]] for i in (0, 4)]
        await message.answer(_("Route of administration?"), reply_markup=_keyboard(doc, *rows))
    elif step == "quantity":
        quantity, unit = await rx.suggested_quantity(tg, doc)
        row = [_button(_("{quantity} {unit} (the course)").format(quantity=quantity, unit=unit), RxAction.QUANTITY,
                       doc, quantity)]
        await message.answer(_("Quantity to dispense? Choose or send a number."), reply_markup=_keyboard(doc, row))
    elif step == "validity":
        choices = await rx.validity_choices(tg, doc)
        row = [_button(_("{days} days").format(days=d), RxAction.VALIDITY, doc, d) for d in choices]
        await message.answer(_("How long is the prescription valid?"), reply_markup=_keyboard(doc, row))
    elif step == "consent":
        rows = [
            [_button(_("✅ The patient agrees to an electronic prescription"), RxAction.CONSENT, doc)],
            [_button(_("🖨 No — print a paper prescription"), RxAction.REFUSE, doc)],
        ]
        await message.answer(_("Has the patient agreed to an electronic prescription?"),
                             reply_markup=_keyboard(doc, *rows))
    else:
        review = await rx.review(tg, doc)
        row = [_button(_("✍️ Sign with the PIN"), RxAction.SIGN, doc)]
        await message.answer(render_review(review), reply_markup=_keyboard(doc, row), protect_content=True)


async def send_paper(message: Message, state: FSMContext, paper: PaperOnly) -> None:
    await state.clear()
    if paper.reason == "psychotropic_or_controlled":
        reason = _("it is a psychotropic or specially controlled drug (form {form}).").format(form=paper.form)
    elif paper.reason == "narcotic":
        reason = _("it is a narcotic drug (form {form}).").format(form=paper.form)
    else:
        reason = _("the patient has not agreed to an electronic prescription.")
    await message.answer(_("An electronic prescription is not possible: {reason} Print the form below, "
                           "fill it in, sign and stamp it.").format(reason=reason))
    await message.answer_document(BufferedInputFile(paper.pdf, paper.filename), protect_content=True,
                                  reply_markup=main_menu_keyboard())


def drafts_keyboard(drafts: list[DraftSummary]) -> InlineKeyboardMarkup:
    labels = [(d.document_id, _("▶️ Continue № {number}: {drug}").format(number=d.document_id, drug=d.drug or "…"))
              for d in drafts]
    return open_drafts_keyboard(labels, _("➕ New prescription"),
                                lambda text, action, doc: _button(text, RxAction(action), doc))


def pick_button(text: str, patient_id: int) -> InlineKeyboardButton:
    return _button(text, RxAction.PATIENT, 0, patient_id)


def patient_prompt() -> str:
    return _("<b>New prescription</b>\n\nSend the patient's surname or policy number. To stop: /cancel")


def get_router() -> Router:
    document_status.register()
    router = Router(name="prescriptions")

    DraftEntry(
        command="prescription",
        menu_action=MenuAction.PRESCRIPTIONS,
        service="prescriptions",
        patient_state=RxFlow.patient,
        unfinished=lambda: _("You have unfinished prescriptions:"),
        drafts_keyboard=drafts_keyboard,
        patient_prompt=patient_prompt,
        pick_button=pick_button,
    ).register(router, RxCallback.filter(F.action == RxAction.NEW), RxCallback.filter(F.action == RxAction.DISCARD))

    steps = DraftSteps(service="prescriptions", state_key="rx", show_step=show_step, corrected_at="review")
    steps.move_button(router, RxCallback.filter(F.action == RxAction.RESUME), PrescriptionService.resume)

    @router.callback_query(RxCallback.filter(F.action == RxAction.PATIENT))
    async def patient_chosen(
        query: CallbackQuery, callback_data: RxCallback, state: FSMContext, prescriptions: PrescriptionService
    ) -> None:
        if not callback_data.arg.isdigit():
            await query.answer(_("This button is out of date."), show_alert=True)
            return
        doc = await prescriptions.start(query.from_user.id, int(callback_data.arg))
        await query.answer()
        assert isinstance(query.message, Message)
        await show_step(query.message, state, prescriptions, query.from_user.id, doc, "drug")

    @router.message(StateFilter(RxFlow.drug), magic(F.text & ~F.text.startswith("/")))
    async def drug_search(message: Message, state: FSMContext, prescriptions: PrescriptionService) -> None:
        assert message.from_user is not None and message.text is not None
        doc = await steps.current(state)
        found = await prescriptions.find_drugs(message.from_user.id, doc, message.text)
        rows = [[_button(d.title[:60], RxAction.DRUG, doc, d.code)] for d in found]
        await message.answer(_("Choose the drug:"), reply_markup=_keyboard(doc, *rows))

    @router.callback_query(RxCallback.filter(F.action == RxAction.DRUG))
    async def drug_chosen(
        query: CallbackQuery, callback_data: RxCallback, state: FSMContext, prescriptions: PrescriptionService
    ) -> None:
        result = await prescriptions.choose_drug(query.from_user.id, callback_data.doc, callback_data.arg)
        await query.answer()
        assert isinstance(query.message, Message)
        if isinstance(result, PaperOnly):
            await send_paper(query.message, state, result)
            return
        await show_step(query.message, state, prescriptions, query.from_user.id, callback_data.doc, "dose")

    steps.text_step(router, RxFlow.dose, PrescriptionService.set_dose, "frequency")
    steps.text_step(router, RxFlow.frequency, PrescriptionService.set_frequency, "duration")
    steps.text_step(router, RxFlow.duration, PrescriptionService.set_duration, "route")
    steps.text_step(router, RxFlow.quantity, PrescriptionService.set_quantity, "validity")

    # A button that answers a step as the typed text would: what stores it, which step follows.
    answered_by_button = {
        RxAction.FREQUENCY: (PrescriptionService.set_frequency, "duration"),
        RxAction.DURATION: (PrescriptionService.set_duration, "route"),
        RxAction.ROUTE: (PrescriptionService.set_route, "quantity"),
        RxAction.QUANTITY: (PrescriptionService.set_quantity, "validity"),
    }

    @router.callback_query(
        RxCallback.filter(
            F.action.in_({RxAction.FREQUENCY, RxAction.DURATION, RxAction.ROUTE, RxAction.QUANTITY,
                          RxAction.VALIDITY, RxAction.CONSENT, RxAction.REFUSE})
        )
    )
    async def choice(
        query: CallbackQuery, callback_data: RxCallback, state: FSMContext, prescriptions: PrescriptionService
    ) -> None:
        tg, doc, arg = query.from_user.id, callback_data.doc, callback_data.arg
        action = callback_data.action
        assert isinstance(query.message, Message)
        if action in answered_by_button:
            save, step = answered_by_button[action]
            await save(prescriptions, tg, doc, arg)
        elif action == RxAction.VALIDITY:
            await prescriptions.set_validity(tg, doc, int(arg) if arg.isdigit() else 0)
            step = "consent"
        else:
            paper = await prescriptions.set_consent(tg, doc, action == RxAction.CONSENT)
            await query.answer()
            if paper is not None:
                await send_paper(query.message, state, paper)
                return
            step = "review"
        await query.answer()
        await show_step(query.message, state, prescriptions, tg, doc, step)

    steps.move_button(router, RxCallback.filter(F.action == RxAction.BACK), PrescriptionService.back)

    async def signed(message: Message, doc: int, _outcome: object) -> None:
        await message.answer(
            _("✅ Prescription № {number} is signed. It will be sent to the clinic system.").format(number=doc),
            reply_markup=signed_keyboard(_button(_("✏️ Correct (new version)"), RxAction.CORRECT, doc)),
        )

    PinSigning(
        service="prescriptions",
        state_key="rx",
        pin_state=RxFlow.pin,
        done_state=RxFlow.done,
        check=PrescriptionService.review,
        sign=PrescriptionService.sign,
        pin_prompt=lambda: _("Enter your PIN to sign the prescription. The message is deleted at once."),
        already_signed=lambda: _("This prescription is already signed."),
        signed=signed,
    ).register(router, RxCallback.filter(F.action == RxAction.SIGN))

    steps.correct_button(router, RxCallback.filter(F.action == RxAction.CORRECT))

    @router.message(StateFilter(*STATE_OF_STEP.values(), RxFlow.patient), magic(~F.text))
    async def not_text(message: Message) -> None:
        await message.answer(_("Send the answer as a text message, or /cancel."))

    return router
