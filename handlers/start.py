"""/start: greeting, what the bot does, the main menu; and the «В меню» button."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.auth import AuthLinks, send_login
from handlers.callbacks import MenuAction, MenuCallback
from handlers.filters import magic
from handlers.menu import main_menu_keyboard, main_menu_text
from handlers.render import edit_or_send, leave_conversation
from services.identity.linking import LinkService
from services.preferences import LanguageCache, PreferencesService
from services.uow import UnitOfWork


def greeting(first_name: str) -> str:
    return _(
        "Hello, {name}!\n\n"
        "I am <b>Doctor's Cabinet</b>, a doctor's personal cabinet in Telegram "
        "linked to your Gosuslugi account.\n\n"
        "Here you can:\n"
        "• see your appointment schedule and confirm changes to it;\n"
        "• approve and sign prescriptions and referrals;\n"
        "• work with patient records and lab results;\n"
        "• get reminders about appointments and CME deadlines;\n"
        "• follow your payroll and request official documents.\n\n"
        "Patient data is shown only after you sign in with Gosuslugi and confirm with your PIN.\n\n"
        "Choose what to do:"
    ).format(name=escape(first_name))


def get_router() -> Router:
    router = Router(name="start")

    @router.message(CommandStart())
    async def start(
        message: Message,
        state: FSMContext,
        uow: UnitOfWork,
        language_cache: LanguageCache,
        link_service: LinkService | None = None,
        auth_links: AuthLinks | None = None,
    ) -> None:
        assert message.from_user is not None
        # /start is the one place a new user's row is written: never a write per message.
        linked = await PreferencesService(uow, language_cache).remember_user(message.from_user.id, message.chat.id)
        await leave_conversation(state)
        await message.answer(greeting(message.from_user.first_name), reply_markup=main_menu_keyboard())
        if not linked and link_service is not None:
            await send_login(message, link_service, auth_links)

    @router.message(Command("menu"))
    @router.message(magic(F.text.casefold().in_({"меню", "menu"})))
    async def menu(message: Message, state: FSMContext) -> None:
        # The menu without the greeting, and without /start's write of the user's row.
        await leave_conversation(state)
        await message.answer(main_menu_text(), reply_markup=main_menu_keyboard())

    @router.callback_query(MenuCallback.filter(F.action == MenuAction.MAIN))
    async def main_menu(query: CallbackQuery, state: FSMContext) -> None:
        await leave_conversation(state)
        await edit_or_send(query, main_menu_text(), main_menu_keyboard())
        await query.answer()

    return router
