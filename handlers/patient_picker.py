"""The first step of the prescription, referral and document conversations: the patient, offered
from today's schedule and the recently seen as buttons, with the surname search below them."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.schedule_ui import hhmm
from services.errors import DomainError
from services.patients import PatientLookupService
from services.schedule.patient_choice import PatientChoices, PatientChoiceService, PatientOption

# At most this many buttons, so the keyboard stays on one phone screen.
MAX_BUTTONS = 12


def _label(option: PatientOption) -> str:
    return option.name + (f", {option.age}" if option.age is not None else "")


def picker_keyboard(
    choices: PatientChoices, locale: str, button: Callable[[str, int], InlineKeyboardButton]
) -> InlineKeyboardMarkup | None:
    rows = [[button(f"🕘 {hhmm(o.at, o.timezone, locale)} {_label(o)}", o.patient_id)] for o in choices.today]
    rows += [[button(f"↩️ {_label(o)}", o.patient_id)] for o in choices.recent]
    return InlineKeyboardMarkup(inline_keyboard=rows[:MAX_BUTTONS]) if rows else None


async def ask_patient(
    message: Message,
    prompt: str,
    picker: PatientChoiceService,
    telegram_user_id: int,
    locale: str,
    button: Callable[[str, int], InlineKeyboardButton],
) -> None:
    """The prompt, with today's and recent patients as buttons when there are any. Without a
    fresh PIN (or without a schedule) the doctor simply types the surname: the search asks for
    the PIN itself, and this step must not leave the conversation for a PIN prompt."""
    try:
        choices = await picker.choices(telegram_user_id)
    except DomainError:
        choices = None
    markup = picker_keyboard(choices, locale, button) if choices is not None else None
    if markup is None:
        await message.answer(prompt)
        return
    text = prompt + "\n\n" + _("🕘 — today's appointments, ↩️ — seen recently.")
    # Patient names: a protected message (no forwarding, no saving), as every patient list.
    await message.answer(text, reply_markup=markup, protect_content=True)


async def search_patients(
    message: Message, patients: PatientLookupService, button: Callable[[str, int], InlineKeyboardButton]
) -> None:
    """The typed surname or policy number: the matches as buttons (a protected message)."""
    assert message.from_user is not None and message.text is not None
    result = await patients.search(message.from_user.id, message.text)
    if not result.cards:
        await message.answer(_("Nobody found. Check the surname or send the policy number."))
        return
    rows = [
        [button(card.display_name + (f", {card.age}" if card.age is not None else ""), card.patient_id)]
        for card in result.cards
    ]
    await message.answer(
        _("Choose the patient:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows), protect_content=True
    )
