"""The middle of the prescription, referral and document conversations: a typed answer saved and the
next step shown, and the buttons that move the draft (▶️ Continue, « Back, ✏️ Correct) and show
where it now is. The same for the three; each keeps its own steps and how a step is shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message

from handlers.filters import magic

# (message, state, service, telegram user, document, step): send the step's prompt, set the state.
ShowStep = Callable[[Message, FSMContext, Any, int, int, Any], Awaitable[None]]


@dataclass(frozen=True)
class DraftSteps:
    service: str  # the per-update service's name in the handler data (bot/middlewares/services.py)
    state_key: str  # where the conversation's state keeps the document id
    show_step: ShowStep
    corrected_at: Any  # the step a correction opens at (its review or preview)

    async def current(self, state: FSMContext) -> int:
        return int((await state.get_data()).get(self.state_key, 0))

    def text_step(
        self, router: Router, step_state: State, save: Callable[[Any, int, int, str], Awaitable[object]], following: str
    ) -> None:
        """A typed answer: ``save`` checks and stores it (or raises), then ``following`` is shown."""

        @router.message(StateFilter(step_state), magic(F.text & ~F.text.startswith("/")))
        async def answer(message: Message, state: FSMContext, **data: Any) -> None:
            assert message.from_user is not None and message.text is not None
            service = data[self.service]
            doc = await self.current(state)
            await save(service, message.from_user.id, doc, message.text)
            await self.show_step(message, state, service, message.from_user.id, doc, following)

    def move_button(
        self, router: Router, button: CallbackQueryFilter, move: Callable[[Any, int, int], Awaitable[Any]]
    ) -> None:
        """«▶️ Continue» or «« Back»: ``move`` returns the step the draft is now at, which is shown."""

        @router.callback_query(button)
        async def moved(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
            service, doc = data[self.service], data["callback_data"].doc
            step = await move(service, query.from_user.id, doc)
            await query.answer()
            assert isinstance(query.message, Message)
            await self.show_step(query.message, state, service, query.from_user.id, doc, step)

    def correct_button(self, router: Router, button: CallbackQueryFilter) -> None:
        """«✏️ Correct (new version)» under a signed document: the new draft, opened at its review."""

        @router.callback_query(button)
        async def correct(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
            service = data[self.service]
            doc = await service.correct(query.from_user.id, data["callback_data"].doc)
            await query.answer()
            assert isinstance(query.message, Message)
            await self.show_step(query.message, state, service, query.from_user.id, doc, self.corrected_at)
