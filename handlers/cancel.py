"""/cancel leaves any conversation, whatever state group it belongs to.

It is registered before every feature router, so it wins over a state's own text handler.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from handlers.filters import magic
from handlers.menu import main_menu_keyboard


def get_router() -> Router:
    router = Router(name="cancel")

    @router.message(Command("cancel"))
    @router.message(magic(F.text.casefold().in_({"отмена", "cancel"})))
    async def cancel(message: Message, state: FSMContext) -> None:
        if await state.get_state() is None:
            await message.answer(_("There is nothing to cancel."), reply_markup=main_menu_keyboard())
            return
        await state.clear()
        # Drop any reply keyboard a conversation showed, then give the menu back.
        await message.answer(_("Cancelled."), reply_markup=ReplyKeyboardRemove())
        await message.answer(_("Choose what to do:"), reply_markup=main_menu_keyboard())

    return router
