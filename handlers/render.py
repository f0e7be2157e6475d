"""Small helpers for showing a screen in place of the one whose button was pressed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message


class Screens:
    """Screens already rendered from a view object, per locale.

    Services hand out the same view object while its data is unchanged (their read cache), so
    a screen rendered once from it — dozens of buttons — is shown again without rendering it
    again. Entries keep their view alive, so an object id is never mistaken for another's.
    """

    def __init__(self, max_entries: int = 2_000) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], tuple[object, str, InlineKeyboardMarkup | None]] = OrderedDict()

    def of(
        self, view: object, locale: str, render: Callable[[], tuple[str, InlineKeyboardMarkup | None]]
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        key = (id(view), locale)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is view:
            self._entries.move_to_end(key)
            return entry[1], entry[2]
        text, markup = render()
        self._entries[key] = (view, text, markup)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return text, markup


async def edit_or_send(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Edit the pressed message into ``text``; send a new one if it can no longer be edited.

    Messages older than 48 hours (or deleted) cannot be edited; the user still gets the screen.
    """
    message = query.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return
    if isinstance(message, Message | InaccessibleMessage) and query.bot is not None:
        await query.bot.send_message(message.chat.id, text, reply_markup=markup)


async def leave_conversation(state: FSMContext) -> None:
    """Drop any conversation; a no-op (and no storage write) when there is none."""
    if await state.get_state() is not None or await state.get_data():
        await state.clear()
