"""/help: what the commands do and how to get out of any conversation."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction, MenuCallback
from handlers.menu import back_to_menu_keyboard
from handlers.render import edit_or_send


def help_text() -> str:
    return _(
        "<b>Help</b>\n\n"
        "/start — main menu\n"
        "/login — sign in with Gosuslugi\n"
        "/profile — your profile: specialty, clinics, accreditation\n"
        "/patients — find a patient by surname or policy number\n"
        "/pin — set or change the PIN\n"
        "/settings — settings: interface language\n"
        "/notifications — reminders, quiet hours, morning brief\n"
        "/prescription — write a prescription\n"
        "/queue — drafts waiting for your signature\n"
        "/referral — write a referral (057/у)\n"
        "/document — a certificate, conclusion or visit protocol\n"
        "/my_documents — your documents and their status in the clinic system\n"
        "/cancel — stop the current action and return to the menu\n"
        "/help — this help\n"
        "/logout — sign out and unlink this Telegram account\n\n"
        "For clinic administrators: /announce — an announcement to doctors, "
        "/unreachable — doctors who blocked the bot, /audit — the audit log, "
        "/templates — the clinic's document templates\n\n"
        "Buttons under messages do the same as the commands. "
        "If something went wrong, send /cancel and start again."
    )


def get_router() -> Router:
    router = Router(name="help")

    @router.message(Command("help"))
    async def help_command(message: Message) -> None:
        await message.answer(help_text(), reply_markup=back_to_menu_keyboard())

    @router.callback_query(MenuCallback.filter(F.action == MenuAction.HELP))
    async def help_button(query: CallbackQuery) -> None:
        await edit_or_send(query, help_text(), back_to_menu_keyboard())
        await query.answer()

    return router
