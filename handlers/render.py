"""Small helpers for showing a screen in place of the one whose button was pressed."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message


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
