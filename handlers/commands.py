"""The bot's command menu, in each language, as Telegram shows it next to the input field."""

from __future__ import annotations

from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from services.errors import N_

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Main menu")),
    ("login", N_("Sign in with Gosuslugi")),
    ("today", N_("Today's appointments")),
    ("schedule", N_("Schedule: week and calendar")),
    ("patients", N_("Find a patient")),
    ("prescription", N_("Write a prescription")),
    ("queue", N_("Drafts waiting for your signature")),
    ("referral", N_("Write a referral (057/у)")),
    ("document", N_("A certificate, conclusion or visit protocol")),
    ("my_documents", N_("My documents and their status")),
    ("profile", N_("My profile: specialty, clinics, accreditation")),
    ("shifts", N_("Shifts: plan, publish, change")),
    ("calendar", N_("Calendar link for your phone's calendar")),
    ("settings", N_("Settings: language")),
    ("help", N_("Help")),
    ("cancel", N_("Cancel the current action")),
    ("logout", N_("Sign out")),
)


def bot_commands(i18n: I18n, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=command, description=i18n.gettext(description, locale=locale))
        for command, description in COMMANDS
    ]
