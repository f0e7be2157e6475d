"""Callback data of the core screens: ids and enums only, never payloads (Telegram allows 64 bytes)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from services.preferences import Language


class MenuAction(StrEnum):
    MAIN = "main"
    PATIENTS = "patients"
    SCHEDULE = "schedule"
    HELP = "help"
    SETTINGS = "settings"
    NOTIFICATIONS = "notifications"
    PRESCRIPTIONS = "prescriptions"
    REFERRALS = "referrals"
    DOCUMENTS = "documents"


class MenuCallback(CallbackData, prefix="menu"):
    action: MenuAction


class LanguageCallback(CallbackData, prefix="lang"):
    language: Language
