"""The main menu: a keyboard of the sections that exist, shared by /start, /cancel and «В меню».

Keyboards are built once per language and reused: they are the same for every doctor, and
building aiogram models on every press was the largest cost of a menu update.
"""

from __future__ import annotations

from functools import cache

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction, MenuCallback


def _locale() -> str:
    return I18n.get_current(no_error=False).current_locale


def main_menu_keyboard() -> InlineKeyboardMarkup:
    return _main_menu_keyboard(_locale())


@cache
def _main_menu_keyboard(locale: str) -> InlineKeyboardMarkup:
    def button(text: str, action: MenuAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=MenuCallback(action=action).pack())

    # Two a row: the menu fits a phone screen without scrolling.
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(_("📅 Schedule"), MenuAction.SCHEDULE), button(_("🔎 Patients"), MenuAction.PATIENTS)],
            [button(_("💊 Prescription"), MenuAction.PRESCRIPTIONS), button(_("📨 Referral"), MenuAction.REFERRALS)],
            [button(_("📄 Document"), MenuAction.DOCUMENTS)],
            [button(_("⚙️ Settings"), MenuAction.SETTINGS), button(_("❓ Help"), MenuAction.HELP)],
        ]
    )


def back_to_menu_keyboard() -> InlineKeyboardMarkup:
    return _back_to_menu_keyboard(_locale())


@cache
def _back_to_menu_keyboard(locale: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_to_menu_button()]])


def back_to_menu_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("« Main menu"), callback_data=MenuCallback(action=MenuAction.MAIN).pack())


def main_menu_text() -> str:
    return _("<b>Main menu</b>\n\nChoose what to do:")
