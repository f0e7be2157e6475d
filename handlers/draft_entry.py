"""How the prescription, referral and document conversations begin: the command, the menu button,
«➕ Новый…», «🗑» on an unfinished draft and the patient's surname search. The same for the three;
each conversation keeps its own steps (and its own «▶️ Продолжить», which differ)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction, MenuCallback
from handlers.filters import magic
from handlers.menu import back_to_menu_button, main_menu_keyboard
from handlers.patient_picker import ask_patient, search_patients
from services.medical_documents import OpenDraft
from services.patients import PatientLookupService
from services.schedule.patient_choice import PatientChoiceService

# (text, action, document) → a button of the conversation; the action is "resume", "discard" or "new".
ActionButton = Callable[[str, str, int], InlineKeyboardButton]


def open_drafts_keyboard(drafts: Sequence[tuple[int, str]], new: str, button: ActionButton) -> InlineKeyboardMarkup:
    """Up to five unfinished drafts, (document, «▶️ Continue …» label), each with 🗑; then «➕ New …»."""
    rows = [[button(label, "resume", doc), button("🗑", "discard", doc)] for doc, label in drafts[:5]]
    rows.append([button(new, "new", 0)])
    rows.append([back_to_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def continue_label(draft: OpenDraft) -> str:
    return _("▶️ Continue № {number}: {title}").format(number=draft.document_id, title=(draft.title or "…")[:40])


class DraftService(Protocol):
    async def open(self, telegram_user_id: int) -> Sequence[Any]: ...

    async def discard(self, telegram_user_id: int, document_id: int) -> Any: ...


@dataclass(frozen=True)
class DraftEntry:
    command: str
    menu_action: MenuAction
    service: str  # the per-update service's name in the handler data (bot/middlewares/services.py)
    patient_state: State
    unfinished: Callable[[], str]  # «У вас есть незавершённые …:»
    drafts_keyboard: Callable[[Any], InlineKeyboardMarkup]
    patient_prompt: Callable[[], str]
    pick_button: Callable[[str, int], InlineKeyboardButton]

    async def _ask_patient(self, message: Message, state: FSMContext, data: dict[str, Any], tg: int) -> None:
        picker: PatientChoiceService = data["patient_picker"]
        await state.set_state(self.patient_state)
        await ask_patient(message, self.patient_prompt(), picker, tg, data["locale"], self.pick_button)

    async def begin(self, message: Message, state: FSMContext, data: dict[str, Any], tg: int) -> None:
        """Unfinished drafts first (to continue or delete); otherwise straight to the patient."""
        service: DraftService = data[self.service]
        drafts = await service.open(tg)
        if drafts:
            await state.clear()
            await message.answer(self.unfinished(), reply_markup=self.drafts_keyboard(drafts))
            return
        await self._ask_patient(message, state, data, tg)

    def register(self, router: Router, new: CallbackQueryFilter, discard: CallbackQueryFilter) -> None:
        @router.message(Command(self.command))
        async def command(message: Message, state: FSMContext, **data: Any) -> None:
            assert message.from_user is not None
            await self.begin(message, state, data, message.from_user.id)

        @router.callback_query(MenuCallback.filter(F.action == self.menu_action))
        async def menu_button(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
            await query.answer()
            assert isinstance(query.message, Message)
            await self.begin(query.message, state, data, query.from_user.id)

        @router.message(StateFilter(self.patient_state), magic(F.text & ~F.text.startswith("/")))
        async def patient_search(message: Message, patients: PatientLookupService) -> None:
            await search_patients(message, patients, self.pick_button)

        @router.callback_query(new)
        async def new_draft(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
            service: DraftService = data[self.service]
            await service.open(query.from_user.id)
            await query.answer()
            assert isinstance(query.message, Message)
            await self._ask_patient(query.message, state, data, query.from_user.id)

        @router.callback_query(discard)
        async def discard_draft(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
            service: DraftService = data[self.service]
            await service.discard(query.from_user.id, data["callback_data"].doc)
            await state.clear()
            await query.answer(_("Draft deleted."))
            assert isinstance(query.message, Message)
            await query.message.answer(_("Choose what to do:"), reply_markup=main_menu_keyboard())
