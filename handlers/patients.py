"""/patients and «🔎 Пациенты»: find a patient by surname or policy number.

The service checks who may search (linked, consent, doctor role, fresh PIN); a refusal reaches the
doctor through the error handlers. The answer carries patient data, so it is sent protected
(no forwarding or saving). The doctor stays in the search until /cancel, so a mistyped surname
or the next patient is just another message.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction, MenuCallback
from handlers.filters import magic
from handlers.menu import back_to_menu_keyboard
from handlers.render import edit_or_send
from services.patients import PatientCard, PatientLookupService, PatientSearchResult


class PatientSearch(StatesGroup):
    query = State()


def search_prompt() -> str:
    return _(
        "<b>Find a patient</b>\n\n"
        "Send the patient's surname in full (for example, Петрова) or the 16-digit policy number.\n"
        "Only your clinics' patients are searched. To finish: /cancel"
    )


def render_card(number: int, card: PatientCard) -> str:
    name = f"<b>{escape(card.display_name)}</b>"
    person = name if card.age is None else _("{name}, age {age}").format(name=name, age=card.age)
    return _("{number}. {person} — {clinic}, patient ID {patient_id}").format(
        number=number, person=person, clinic=escape(card.clinic_short_name), patient_id=card.patient_id
    )


def render_result(result: PatientSearchResult) -> str:
    hint = _("Send another surname or policy number, or /cancel to finish.")
    if not result.cards:
        return (
            _("Nobody found. Check the surname (it must be written in full) or search by the policy number.")
            + "\n\n"
            + hint
        )
    lines = [_("<b>Patients found</b>:"), ""]
    lines += [render_card(number, card) for number, card in enumerate(result.cards, start=1)]
    if result.more:
        lines += [
            "",
            _("Only the first {count} are shown. Narrow the search: send the policy number.").format(
                count=len(result.cards)
            ),
        ]
    return "\n".join([*lines, "", hint])


def get_router() -> Router:
    router = Router(name="patients")

    @router.message(Command("patients"))
    async def patients_command(message: Message, state: FSMContext, patients: PatientLookupService) -> None:
        assert message.from_user is not None
        await patients.open(message.from_user.id)
        await state.set_state(PatientSearch.query)
        await message.answer(search_prompt(), reply_markup=back_to_menu_keyboard())

    @router.callback_query(MenuCallback.filter(F.action == MenuAction.PATIENTS))
    async def patients_button(query: CallbackQuery, state: FSMContext, patients: PatientLookupService) -> None:
        await patients.open(query.from_user.id)
        await state.set_state(PatientSearch.query)
        await edit_or_send(query, search_prompt(), back_to_menu_keyboard())
        await query.answer()

    # Commands are left to their own handlers (or the fallback), not taken for a surname.
    @router.message(StateFilter(PatientSearch.query), magic(F.text & ~F.text.startswith("/")))
    async def search(message: Message, patients: PatientLookupService) -> None:
        assert message.from_user is not None and message.text is not None
        # A bad query raises InvalidQuery: the error handler explains it and the state stays.
        result = await patients.search(message.from_user.id, message.text)
        await message.answer(render_result(result), protect_content=True)

    @router.message(StateFilter(PatientSearch.query), magic(~F.text))
    async def search_not_text(message: Message) -> None:
        await message.answer(_("Send the surname or the policy number as a text message, or /cancel."))

    return router
