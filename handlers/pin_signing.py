"""How the prescription, referral and document conversations end: «✍️ Sign with the PIN», the PIN
prompt, the PIN message deleted and the document signed once, then the result screen. The same for
the three; each conversation keeps its own result screen (a text or the signed PDF)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from handlers.filters import magic
from handlers.menu import back_to_menu_button
from services.medical_documents import SignOutcome

PIN_LIKE = r"^\s*\d{4,8}\s*$"


def signed_keyboard(correct: InlineKeyboardButton) -> InlineKeyboardMarkup:
    """Under a signed document: «✏️ Correct (new version)» and back to the menu."""
    return InlineKeyboardMarkup(inline_keyboard=[[correct], [back_to_menu_button()]])


@dataclass(frozen=True)
class PinSigning:
    service: str  # the per-update service's name in the handler data (bot/middlewares/services.py)
    state_key: str  # where the conversation's state keeps the document id
    pin_state: State
    done_state: State
    # Before the PIN prompt, (service, telegram user, document): the review or preview, which checks
    # ownership, so a forged button does not even get a PIN prompt.
    check: Callable[[Any, int, int], Awaitable[object]]
    # (service, telegram user, document, PIN) → what the service's sign returns.
    sign: Callable[[Any, int, int, str], Awaitable[Any]]
    pin_prompt: Callable[[], str]
    already_signed: Callable[[], str]
    # (message, document, what sign returned): the result screen of a document signed just now.
    signed: Callable[[Message, int, Any], Awaitable[None]]
    outcome_of: Callable[[Any], SignOutcome] = lambda result: result  # most services return the outcome itself

    def register(self, router: Router, sign_button: CallbackQueryFilter) -> None:
        @router.callback_query(sign_button)
        async def sign(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
            doc = data["callback_data"].doc
            await self.check(data[self.service], query.from_user.id, doc)
            await state.set_state(self.pin_state)
            await state.update_data({self.state_key: doc})
            await query.answer()
            assert isinstance(query.message, Message)
            await query.message.answer(self.pin_prompt())

        @router.message(StateFilter(self.done_state), magic(F.text.regexp(PIN_LIKE)))
        async def pin_again(message: Message) -> None:
            # The PIN sent twice: nothing to sign, and the PIN is not checked again (no lockout count).
            with contextlib.suppress(TelegramAPIError):
                await message.delete()
            await message.answer(self.already_signed())

        @router.message(StateFilter(self.pin_state), magic(F.text & ~F.text.startswith("/")))
        async def pin(message: Message, state: FSMContext, **data: Any) -> None:
            assert message.from_user is not None and message.text is not None
            with contextlib.suppress(TelegramAPIError):
                await message.delete()  # the PIN must not stay in the chat
            doc = int((await state.get_data()).get(self.state_key, 0))
            result = await self.sign(data[self.service], message.from_user.id, doc, message.text)
            await state.set_state(self.done_state)
            if not self.outcome_of(result).signed_now:
                await message.answer(self.already_signed())
                return
            await self.signed(message, doc, result)
