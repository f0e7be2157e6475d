"""What the bot says to anything no feature understood: never silence, never an echo of raw input.

Registered last, so every feature router gets its chance first.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.filters import magic
from handlers.menu import main_menu_keyboard

# Telegram commands are at most 32 characters; longer "commands" are shown cut.
_MAX_SHOWN_COMMAND = 33


def get_router() -> Router:
    router = Router(name="fallback")

    @router.message(magic(F.text.startswith("/")))
    async def unknown_command(message: Message) -> None:
        assert message.text is not None
        command = message.text.split(maxsplit=1)[0]
        if len(command) > _MAX_SHOWN_COMMAND:
            command = command[:_MAX_SHOWN_COMMAND] + "…"
        await message.answer(
            _("I don't know the command {command}. The list of commands: /help").format(command=escape(command))
        )

    @router.message(magic(F.text))
    async def unknown_text(message: Message) -> None:
        await message.answer(
            _("I didn't understand that. Choose an action in the menu or send /help."),
            reply_markup=main_menu_keyboard(),
        )

    @router.message()
    async def not_text(message: Message) -> None:
        await message.answer(
            _("I understand only text and buttons. Choose an action in the menu or send /help."),
            reply_markup=main_menu_keyboard(),
        )

    @router.callback_query()
    async def stale_button(query: CallbackQuery) -> None:
        # A forged or outdated button: say so, change nothing.
        await query.answer(_("This button is out of date. Open the menu again: /start"), show_alert=True)

    return router
