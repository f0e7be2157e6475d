"""A local Telegram Bot API emulator for tests and manual runs (independent of aiogram)."""

from .calllog import CallRecord
from .errors import ApiError, ControlError
from .limits import Fault, Limits
from .server import DEFAULT_TOKEN, DEFAULT_USERNAME, TelegramEmulator
from .settings import Settings
from .store import BotAccount, CallbackQueryRecord, DeliveryRecord, StoredMessage, UserAccount

__all__ = [
    "DEFAULT_TOKEN",
    "DEFAULT_USERNAME",
    "ApiError",
    "BotAccount",
    "CallRecord",
    "CallbackQueryRecord",
    "ControlError",
    "DeliveryRecord",
    "Fault",
    "Limits",
    "Settings",
    "StoredMessage",
    "TelegramEmulator",
    "UserAccount",
]
