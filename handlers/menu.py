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
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("📅 Schedule"), callback_data=MenuCallback(action=MenuAction.SCHEDULE).pack())],
            [
                InlineKeyboardButton(
                    text=_("🔎 Patients"), callback_data=MenuCallback(action=MenuAction.PATIENTS).pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("⚙️ Settings"), callback_data=MenuCallback(action=MenuAction.SETTINGS).pack()
                ),
                InlineKeyboardButton(text=_("❓ Help"), callback_data=MenuCallback(action=MenuAction.HELP).pack()),
            ]
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
