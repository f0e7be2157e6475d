"""/settings: the interface language (remembered), more sections come with their features."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import (
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import LanguageCallback, MenuAction, MenuCallback
from handlers.commands import bot_commands
from handlers.menu import back_to_menu_button
from handlers.render import edit_or_send
from services.preferences import Language, LanguageCache, PreferencesService
from services.uow import UnitOfWork

LANGUAGE_NAMES = {Language.RU: "🇷🇺 Русский", Language.EN: "🇬🇧 English"}


def settings_text(language: str) -> str:
    name = LANGUAGE_NAMES.get(Language(language), language)
    return _("<b>Settings</b>\n\nInterface language: {language}\n\nChoose the language:").format(language=name)


def settings_keyboard(current: str) -> InlineKeyboardMarkup:
    languages = [
        InlineKeyboardButton(
            text=("✓ " if language == current else "") + name,
            callback_data=LanguageCallback(language=language).pack(),
        )
        for language, name in LANGUAGE_NAMES.items()
    ]
    notifications = InlineKeyboardButton(
        text=_("🔔 Notifications"), callback_data=MenuCallback(action=MenuAction.NOTIFICATIONS).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[languages, [notifications], [back_to_menu_button()]])


def get_router() -> Router:
    router = Router(name="settings")

    @router.message(Command("settings"))
    async def settings_command(message: Message, locale: str) -> None:
        await message.answer(settings_text(locale), reply_markup=settings_keyboard(locale))

    @router.callback_query(MenuCallback.filter(F.action == MenuAction.SETTINGS))
    async def settings_button(query: CallbackQuery, locale: str) -> None:
        await edit_or_send(query, settings_text(locale), settings_keyboard(locale))
        await query.answer()

    @router.callback_query(LanguageCallback.filter())
    async def choose_language(
        query: CallbackQuery,
        callback_data: LanguageCallback,
        bot: Bot,
        i18n: I18n,
        uow: UnitOfWork,
        language_cache: LanguageCache,
    ) -> None:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        language = await PreferencesService(uow, language_cache).set_language(
            query.from_user.id, chat_id, callback_data.language
        )
        # The rest of this update speaks the newly chosen language.
        i18n.current_locale = language.value
        await edit_or_send(query, settings_text(language), settings_keyboard(language))
        await query.answer(_("Language saved."))
        # The command menu follows the chosen language in this chat, whatever the app's language.
        # It is a convenience: if Telegram refuses, the choice itself is already saved.
        with suppress(TelegramAPIError):
            await bot.set_my_commands(bot_commands(i18n, language), scope=BotCommandScopeChat(chat_id=chat_id))

    return router
