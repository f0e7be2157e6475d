"""Reply markup validation.

Telegram rejects malformed keyboards at send time, so the emulator does too: a bot whose
`callback_data` grows past 64 bytes must fail in tests the way it would fail in production.
Validated markup is normalized (only known keys kept) so that "message is not modified" can be
decided by plain equality.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from .errors import ApiError, bad_request

Markup = dict[str, Any]

# The action fields of an inline button: exactly one must be present.
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BUTTON_EXTRAS = ("style", "icon_custom_emoji_id")
_REPLY_BUTTON_KEYS = (
    "text",
    "request_users",
    "request_chat",
    "request_contact",
    "request_location",
    "request_poll",
    "web_app",
    "style",
    "icon_custom_emoji_id",
)
MAX_BUTTONS = 100


def _button_error(message: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {message}")


def _valid_url(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return bool(parsed.netloc)
    return parsed.scheme == "tg" or (not parsed.scheme and "." in url and " " not in url)


def _inline_button(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    text = raw.get("text")
    if not isinstance(text, str):
        raise _button_error("Field \"text\" must be of type String")
    actions = [key for key in _INLINE_ACTIONS if raw.get(key) is not None]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request("can't parse inline keyboard button: only one of the optional fields must be used")
    action = actions[0]
    value = raw[action]
    button: dict[str, Any] = {"text": text, action: value}
    if action == "callback_data":
        if not isinstance(value, str) or not 1 <= len(value.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "url":
        if not isinstance(value, str) or not _valid_url(value):
            raise bad_request("BUTTON_URL_INVALID")
    elif action == "web_app" and (not isinstance(value, dict) or not str(value.get("url", "")).startswith("https://")):
        raise bad_request("BUTTON_TYPE_INVALID")
    for key in _BUTTON_EXTRAS:
        if raw.get(key) is not None:
            button[key] = raw[key]
    return button


def _rows(raw: Any, field: str) -> list[Any]:
    if not isinstance(raw, list) or not all(isinstance(row, list) for row in raw):
        raise bad_request(f"field \"{field}\" of the {_kind(field)} must be an Array of Arrays")
    return raw


def _kind(field: str) -> str:
    return "InlineKeyboardMarkup" if field == "inline_keyboard" else "ReplyKeyboardMarkup"


def _reply_button(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        return {"text": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise bad_request("can't parse keyboard button: KeyboardButton must be a String or an Object")
    return {key: raw[key] for key in _REPLY_BUTTON_KEYS if raw.get(key) is not None}


def validate_reply_markup(raw: Any) -> Markup | None:
    """Validate `reply_markup`; return its normalized form (None when absent)."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        rows = [[_inline_button(b) for b in row] for row in _rows(raw["inline_keyboard"], "inline_keyboard")]
        if sum(len(row) for row in rows) > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        return {"inline_keyboard": [row for row in rows if row]}
    if "keyboard" in raw:
        keyboard = [[_reply_button(b) for b in row] for row in _rows(raw["keyboard"], "keyboard")]
        if sum(len(row) for row in keyboard) > 300:
            raise bad_request("reply markup is too long")
        markup: Markup = {"keyboard": [row for row in keyboard if row]}
        for key in ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"):
            if raw.get(key):
                markup[key] = True
        placeholder = raw.get("input_field_placeholder")
        if placeholder:
            if not isinstance(placeholder, str) or len(placeholder) > 64:
                raise bad_request("input field placeholder is too long")
            markup["input_field_placeholder"] = placeholder
        return markup
    if raw.get("remove_keyboard") is True:
        return {"remove_keyboard": True, **({"selective": True} if raw.get("selective") else {})}
    if raw.get("force_reply") is True:
        result: Markup = {"force_reply": True}
        if raw.get("input_field_placeholder"):
            result["input_field_placeholder"] = raw["input_field_placeholder"]
        return result
    raise bad_request("can't find field \"inline_keyboard\"")


def is_inline(markup: Markup | None) -> bool:
    return markup is not None and "inline_keyboard" in markup


def callback_buttons(markup: Markup | None) -> list[str]:
    """All callback_data values a user could press on a message with this markup."""
    if not is_inline(markup):
        return []
    assert markup is not None
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row if "callback_data" in b]
