"""What a user does in their Telegram app: send messages, press buttons, block the bot.

These actions produce the updates a bot receives. They are limited to what a real client can do
(a user can't press a button that is not on the message, can't write to a bot they blocked) so
tests catch bots that rely on impossible input; `forge=True` is the explicit way to send a
callback_data no button carries, as a modified client could.
"""

from __future__ import annotations

import base64
from typing import Any

from .entities import detect_entities
from .errors import ControlError
from .files import FileRecord
from .markup import callback_buttons
from .store import BotAccount, CallbackQueryRecord, ChatState, JsonObject, Store, StoredMessage, UserAccount

CONTENT_KINDS = ("text", "sticker", "photo", "voice", "document", "contact")
# What a user's media look like when the test gives no details.
_MEDIA_DEFAULTS: dict[str, dict[str, Any]] = {
    "sticker": {"emoji": "👍", "width": 512, "height": 512, "mime_type": "image/webp"},
    "photo": {"width": 800, "height": 600, "mime_type": "image/jpeg"},
    "voice": {"duration": 3, "mime_type": "audio/ogg"},
    "document": {"file_name": "document.pdf", "mime_type": "application/pdf"},
}


def _user(store: Store, user_id: int) -> UserAccount:
    user = store.users.get(user_id)
    if user is None:
        raise ControlError(404, f"no user {user_id}; create it first")
    return user


def _open_chat(store: Store, bot: BotAccount, user_id: int) -> ChatState:
    _user(store, user_id)
    if user_id in bot.blocked_by:
        raise ControlError(409, f"user {user_id} has blocked the bot; unblock it first")
    return store.chat(bot, user_id)


def _file_bytes(spec: dict[str, Any]) -> bytes:
    data = spec.get("data")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(spec.get("data_base64"), str):
        return base64.b64decode(spec["data_base64"])
    if isinstance(spec.get("text"), str):
        return str(spec["text"]).encode("utf-8")
    return b""


def _user_file(store: Store, kind: str, spec: Any, defaults: dict[str, Any]) -> FileRecord:
    if not isinstance(spec, dict):
        spec = {"emoji": spec} if kind == "sticker" and isinstance(spec, str) else {}
    options = {**defaults, **spec}
    data = _file_bytes(options) or defaults.get("placeholder", b"\0")
    return store.files.add(
        kind,
        data,
        file_name=options.get("file_name"),
        mime_type=options.get("mime_type"),
        duration=options.get("duration"),
        emoji=options.get("emoji"),
        width=options.get("width"),
        height=options.get("height"),
    )


def _content(store: Store, user: UserAccount, fields: dict[str, Any]) -> JsonObject:
    kinds = [kind for kind in CONTENT_KINDS if fields.get(kind) is not None]
    if len(kinds) != 1:
        raise ControlError(400, f"send exactly one of {', '.join(CONTENT_KINDS)}")
    kind = kinds[0]
    value = fields[kind]
    content: JsonObject
    if kind == "text":
        text = str(value)
        if not text.strip():
            raise ControlError(400, "text is empty")
        if len(text) > 4096:
            raise ControlError(400, "text is longer than 4096 characters")
        content = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = entities
        return content
    if kind == "contact":
        contact = dict(value) if isinstance(value, dict) else {}
        contact.setdefault("phone_number", "+70000000000")
        contact.setdefault("first_name", user.first_name)
        return {"contact": {k: v for k, v in contact.items() if v is not None}}
    record = _user_file(store, kind, value, _MEDIA_DEFAULTS[kind])
    content = {kind: record.to_api()}
    caption = fields.get("caption")
    if caption and kind != "sticker":
        content["caption"] = str(caption)
    return content


def send_message(
    store: Store,
    bot: BotAccount,
    user_id: int,
    fields: dict[str, Any],
) -> StoredMessage:
    """The user sends a message to the bot (fields: one of CONTENT_KINDS, caption, reply_to_message_id)."""
    chat = _open_chat(store, bot, user_id)
    content = _content(store, chat.user, fields)
    reply_to = None
    if fields.get("reply_to_message_id") is not None:
        reply_to = chat.messages.get(int(fields["reply_to_message_id"]))
    keyboard = chat.reply_keyboard
    if keyboard is not None and keyboard.get("one_time_keyboard") and "text" in content:
        # A one-time keyboard hides once the user used one of its buttons.
        labels = {button.get("text") for row in keyboard.get("keyboard", []) for button in row}
        if content["text"] in labels:
            chat.reply_keyboard = None
    bot.started_by.add(user_id)
    message = store.add_message(chat, from_bot=False, content=content, reply_to=reply_to)
    chat.last_user_version = message.version
    message.update_id = store.enqueue_update(bot, "message", message.to_api(chat))
    return message


def edit_message(store: Store, bot: BotAccount, user_id: int, message_id: int, text: str) -> StoredMessage:
    """The user edits one of their text messages: the bot gets an edited_message update."""
    chat = _open_chat(store, bot, user_id)
    message = chat.messages.get(message_id)
    if message is None or message.deleted or message.from_bot or "text" not in message.content:
        raise ControlError(404, f"no text message {message_id} of the user in chat {user_id}")
    message.content = {"text": text}
    entities = detect_entities(text)
    if entities:
        message.content["entities"] = entities
    message.edit_date = store.clock.now()
    store.touch(chat, message)
    chat.last_user_version = message.version
    message.update_id = store.enqueue_update(bot, "edited_message", message.to_api(chat))
    return message


def press_button(
    store: Store,
    bot: BotAccount,
    chat_id: int,
    message_id: int,
    callback_data: str | None = None,
    *,
    text: str | None = None,
    forge: bool = False,
) -> CallbackQueryRecord:
    """The user presses an inline callback button (found by callback_data or by its text)."""
    chat = _open_chat(store, bot, chat_id)
    message = chat.messages.get(message_id)
    present = message is not None and not message.deleted
    if not present and not forge:
        raise ControlError(404, f"no message {message_id} in chat {chat_id}")
    if callback_data is None and text is not None and message is not None and message.reply_markup:
        for row in message.reply_markup["inline_keyboard"]:
            for button in row:
                if button["text"] == text and "callback_data" in button:
                    callback_data = button["callback_data"]
    if callback_data is None:
        raise ControlError(409 if text else 400, f"no callback button {text!r} on message {message_id}")
    if not forge and callback_data not in callback_buttons(message.reply_markup if message else None):
        raise ControlError(
            409,
            f"message {message_id} has no button with callback_data {callback_data!r}; "
            "a real client can't press it (pass forge=true to send it anyway)",
        )
    record = CallbackQueryRecord(
        id=store.new_callback_id(),
        bot_id=bot.id,
        chat_id=chat_id,
        user_id=chat.user.id,
        message_id=message_id,
        data=callback_data,
        chat_instance=chat.chat_instance,
        created_at=store.clock.time(),
        forged=forge,
    )
    bot.callback_queries[record.id] = record
    payload: JsonObject = {
        "id": record.id,
        "from": chat.user.to_api(),
        "chat_instance": record.chat_instance,
        "data": callback_data,
    }
    if message is not None and present:
        payload["message"] = message.to_api(chat)
    record.version = store.bump(chat)
    chat.last_user_version = record.version
    record.update_id = store.enqueue_update(bot, "callback_query", payload)
    return record


def set_blocked(store: Store, bot: BotAccount, user_id: int, blocked: bool, *, notify: bool = True) -> int | None:
    """The user blocks (or restarts) the bot: Telegram sends the bot a my_chat_member update.
    ``notify=False``: the update is lost (Telegram keeps updates for 24 hours only, so a bot that was
    down longer never hears of it) and the bot finds out at its next send."""
    user = _user(store, user_id)
    if (user_id in bot.blocked_by) == blocked:
        return None
    if blocked:
        bot.blocked_by.add(user_id)
    else:
        bot.blocked_by.discard(user_id)
        bot.started_by.add(user_id)
    store.chat(bot, user_id)
    old, new = ("member", "kicked") if blocked else ("kicked", "member")

    def member(status: str) -> JsonObject:
        return {"status": status, "user": bot.to_api(), **({"until_date": 0} if status == "kicked" else {})}

    payload: JsonObject = {
        "chat": user.chat_api(),
        "from": user.to_api(),
        "date": store.clock.now(),
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    }
    store.bump(bot.chats[user_id])
    if not notify:
        return None
    return store.enqueue_update(bot, "my_chat_member", payload)
