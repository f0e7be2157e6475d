"""Bot API method handlers.

Each handler receives a `Call` (the bot, its decoded parameters and the emulator state) and returns
the JSON `result` Telegram would, or raises `ApiError` with Telegram's wording. Results are full
objects (a Message from send*/edit*, True from the rest) because aiogram validates every response
against its pydantic models.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from .entities import Entity, EntityParseError, normalize_entities, parse_html, strip_text
from .errors import bad_request, conflict
from .files import MEDIA_KINDS, FileRecord
from .markup import Markup, is_inline, validate_reply_markup
from .notifier import Closed
from .params import Params, Upload
from .settings import Settings
from .store import BotAccount, ChatState, JsonObject, Store, StoredMessage, WebhookConfig

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
DELETE_WINDOW = 48 * 60 * 60  # bots can't delete messages older than 48 hours
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


class WebhookControl(Protocol):
    def webhook_changed(self, bot: BotAccount) -> None: ...


@dataclass
class Call:
    store: Store
    bot: BotAccount
    params: Params
    settings: Settings
    webhooks: WebhookControl
    method: str


Handler = Callable[[Call], Awaitable[Any]]
# lower-case name → (canonical name, handler); Telegram matches method names case-insensitively.
METHODS: dict[str, tuple[str, Handler]] = {}


def method(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            METHODS[name.lower()] = (name, handler)
        return handler

    return register


def lookup(name: str) -> tuple[str, Handler] | None:
    return METHODS.get(name.lower())


# -- shared pieces ----------------------------------------------------------------------------


def formatted(text: str, parse_mode: str | None, raw_entities: Any) -> tuple[str, list[Entity]]:
    """Text and entities after parse_mode / explicit entities, trimmed like Telegram does."""
    try:
        if raw_entities is not None:
            entities = normalize_entities(raw_entities, text)
        elif parse_mode and parse_mode.lower() == "html":
            text, entities = parse_html(text)
        elif parse_mode and parse_mode.lower() in ("markdown", "markdownv2"):
            raise bad_request(f"can't parse entities: parse_mode {parse_mode} is not implemented by the emulator")
        elif parse_mode:
            raise bad_request("unsupported parse_mode")
        else:
            entities = []
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from error
    return strip_text(text, entities)


def message_text(call: Call) -> tuple[str, list[Entity]]:
    p = call.params
    text, entities = formatted(p.get_str("text") or "", p.get_str("parse_mode"), p.get_json("entities"))
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text, entities


def caption_content(call: Call) -> JsonObject:
    p = call.params
    caption = p.get_str("caption")
    if caption is None:
        return {}
    text, entities = formatted(caption, p.get_str("parse_mode"), p.get_json("caption_entities"))
    if len(text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    content: JsonObject = {}
    if text:
        content["caption"] = text
        if entities:
            content["caption_entities"] = entities
    return content


def text_content(text: str, entities: list[Entity]) -> JsonObject:
    content: JsonObject = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def reply_markup(call: Call) -> Markup | None:
    return validate_reply_markup(call.params.get_json("reply_markup"))


def target_chat(call: Call, *, writing: bool = True, name: str = "chat_id") -> ChatState:
    return call.store.chat_for_bot(call.bot, call.params.chat_id(name), writing=writing)


def replied_message(call: Call, chat: ChatState) -> StoredMessage | None:
    p = call.params
    reply = p.get_json("reply_parameters")
    message_id: int | None
    allow_missing = p.get_bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
    else:
        message_id = p.get_int("reply_to_message_id")
    if message_id is None:
        return None
    message = chat.messages.get(int(message_id))
    if message is None or message.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return message


def post(call: Call, chat: ChatState, content: JsonObject, markup: Markup | None) -> JsonObject:
    """Store a bot message with the common send options and return its Message object."""
    p = call.params
    message = call.store.add_message(
        chat,
        from_bot=True,
        content=content,
        markup=markup,
        protect_content=p.get_bool("protect_content"),
        disable_notification=p.get_bool("disable_notification"),
        reply_to=replied_message(call, chat),
    )
    return message.to_api(chat)


def message_to_edit(call: Call) -> tuple[ChatState, StoredMessage]:
    p = call.params
    if p.has("inline_message_id"):
        raise bad_request("inline messages are not supported by the emulator")
    if not p.has("chat_id") or not p.has("message_id"):
        raise bad_request("message identifier is not specified")
    chat = target_chat(call, writing=True)
    message = chat.messages.get(p.require_int("message_id"))
    if message is None or message.deleted:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def edited(call: Call, chat: ChatState, message: StoredMessage, content: JsonObject, markup: Markup | None) -> Any:
    if markup is not None and not is_inline(markup):
        raise bad_request("inline keyboard expected")
    if content == message.content and markup == message.reply_markup:
        raise bad_request(NOT_MODIFIED)
    message.content = content
    message.reply_markup = markup
    message.edit_date = call.store.clock.now()
    call.store.touch(chat, message)
    return message.to_api(chat)


# -- getMe, updates, webhook ------------------------------------------------------------------


@method("getMe")
async def get_me(call: Call) -> Any:
    return call.bot.to_api()


@method("logOut", "close")
async def log_out(call: Call) -> Any:
    return True


WEBHOOK_ACTIVE = "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"


@method("getUpdates")
async def get_updates(call: Call) -> Any:
    bot, p, store = call.bot, call.params, call.store
    if bot.webhook is not None:
        raise conflict(WEBHOOK_ACTIVE)
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = min(max(p.get_float("timeout") or 0.0, 0.0), call.settings.max_long_poll)
    if p.has("allowed_updates"):
        allowed = p.get_json("allowed_updates")
        bot.set_allowed_updates(list(allowed) if isinstance(allowed, list) else None)
    store.confirm(bot, p.get_int("offset"))
    # A newer getUpdates terminates an older waiting one, as Telegram does for two running instances.
    bot.poll_generation += 1
    generation = bot.poll_generation
    if timeout > 0:
        try:
            await store.notifier.wait_for(
                lambda: generation != bot.poll_generation or bot.webhook is not None or bool(store.pending(bot)),
                timeout,
            )
        except Closed:
            return []
    if generation != bot.poll_generation:
        raise conflict("terminated by other getUpdates request; make sure that only one bot instance is running")
    if bot.webhook is not None:
        raise conflict(WEBHOOK_ACTIVE)
    pending = store.pending(bot)
    return [update.payload for _, update in zip(range(limit), pending, strict=False)]


@method("setWebhook")
async def set_webhook(call: Call) -> Any:
    bot, p = call.bot, call.params
    url = p.get_str("url") or ""
    if not url:
        return await delete_webhook(call)
    parsed = urlparse(url)
    allowed_schemes = ("https", "http") if call.settings.allow_http_webhook else ("https",)
    if parsed.scheme not in allowed_schemes or not parsed.hostname:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET.match(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters or has wrong length")
    max_connections = p.get_int("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = p.get_json("allowed_updates")
    if p.has("allowed_updates"):
        bot.set_allowed_updates(list(allowed) if isinstance(allowed, list) else None)
    if p.get_bool("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook = WebhookConfig(
        url=url,
        secret_token=secret,
        max_connections=max_connections,
        ip_address=p.get_str("ip_address"),
        allowed_updates=list(allowed) if isinstance(allowed, list) and allowed else None,
        has_custom_certificate=p.file("certificate") is not None,
    )
    bot.last_error_date = None
    bot.last_error_message = None
    call.store.bump()
    call.webhooks.webhook_changed(bot)
    return True


@method("deleteWebhook")
async def delete_webhook(call: Call) -> Any:
    bot = call.bot
    if call.params.get_bool("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook = None
    call.store.bump()
    call.webhooks.webhook_changed(bot)
    return True


@method("getWebhookInfo")
async def get_webhook_info(call: Call) -> Any:
    bot = call.bot
    pending = len(call.store.pending(bot))
    hook = bot.webhook
    if hook is None:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
    info: JsonObject = {
        "url": hook.url,
        "has_custom_certificate": hook.has_custom_certificate,
        "pending_update_count": pending,
        "max_connections": hook.max_connections,
    }
    if hook.ip_address:
        info["ip_address"] = hook.ip_address
    if hook.allowed_updates:
        info["allowed_updates"] = hook.allowed_updates
    if bot.last_error_date is not None:
        info["last_error_date"] = bot.last_error_date
        info["last_error_message"] = bot.last_error_message
    return info


# -- sending ----------------------------------------------------------------------------------


@method("sendMessage")
async def send_message(call: Call) -> Any:
    chat = target_chat(call)
    text, entities = message_text(call)
    return post(call, chat, text_content(text, entities), reply_markup(call))


def resolve_file(call: Call, kind: str, value: Upload | str) -> FileRecord:
    files = call.store.files
    if isinstance(value, Upload):
        if not value.data:
            raise bad_request("file must be non-empty")
        return files.add(
            kind,
            value.data,
            file_name=value.filename,
            mime_type=value.content_type,
            duration=call.params.get_int("duration"),
            width=call.params.get_int("width"),
            height=call.params.get_int("height"),
            emoji=call.params.get_str("emoji"),
        )
    record = files.by_id.get(value)
    if record is not None:
        return record
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        # The emulator never fetches URLs; the file is known by its name only.
        name = parsed.path.rsplit("/", 1)[-1] or None
        return files.add(kind, b"", file_name=name, url=value)
    raise bad_request("wrong file identifier/HTTP URL specified")


def _media_sender(kind: str) -> Handler:
    async def send_media(call: Call) -> Any:
        chat = target_chat(call)
        value = call.params.file(kind)
        if value is None:
            raise bad_request(f"there is no {kind} in the request")
        record = resolve_file(call, kind, value)
        content: JsonObject = {kind: record.to_api()}
        if kind != "sticker":
            content.update(caption_content(call))
        if call.params.get_bool("has_spoiler"):
            content["has_media_spoiler"] = True
        return post(call, chat, content, reply_markup(call))

    return send_media


for _kind in MEDIA_KINDS:
    _name = "send" + "".join(part.capitalize() for part in _kind.split("_"))
    method(_name)(_media_sender(_kind))


@method("sendContact")
async def send_contact(call: Call) -> Any:
    chat = target_chat(call)
    p = call.params
    phone, first_name = p.get_str("phone_number"), p.get_str("first_name")
    if not phone:
        raise bad_request("phone number is empty")
    if not first_name:
        raise bad_request("first name is empty")
    contact: JsonObject = {"phone_number": phone, "first_name": first_name}
    if p.has("last_name"):
        contact["last_name"] = p.get_str("last_name")
    return post(call, chat, {"contact": contact}, reply_markup(call))


@method("sendLocation")
async def send_location(call: Call) -> Any:
    chat = target_chat(call)
    latitude, longitude = call.params.get_float("latitude"), call.params.get_float("longitude")
    if latitude is None or longitude is None:
        raise bad_request("wrong latitude or longitude")
    return post(call, chat, {"location": {"latitude": latitude, "longitude": longitude}}, reply_markup(call))


@method("sendChatAction")
async def send_chat_action(call: Call) -> Any:
    chat = target_chat(call)
    action = call.params.get_str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.action = action
    # Clients show the status for 5 seconds or until the next message.
    chat.action_until = call.store.clock.time() + 5
    call.store.bump(chat)
    return True


def _source_message(call: Call) -> tuple[ChatState, StoredMessage]:
    source_chat = call.store.chat_for_bot(call.bot, call.params.chat_id("from_chat_id"), writing=False)
    message = source_chat.messages.get(call.params.require_int("message_id", "message_id is empty"))
    if message is None or message.deleted:
        raise bad_request("message to copy not found")
    return source_chat, message


@method("copyMessage")
async def copy_message(call: Call) -> Any:
    chat = target_chat(call)
    _, source = _source_message(call)
    if source.protect_content:
        raise bad_request("message has protected content and can't be forwarded")
    content = dict(source.content)
    if call.params.has("caption") and "text" not in content:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_content(call))
    markup = reply_markup(call) if call.params.has("reply_markup") else None
    message = call.store.add_message(
        chat,
        from_bot=True,
        content=content,
        markup=markup,
        protect_content=call.params.get_bool("protect_content"),
        disable_notification=call.params.get_bool("disable_notification"),
        reply_to=replied_message(call, chat),
    )
    return {"message_id": message.message_id}


@method("forwardMessage")
async def forward_message(call: Call) -> Any:
    chat = target_chat(call)
    source_chat, source = _source_message(call)
    if source.protect_content:
        raise bad_request("message has protected content and can't be forwarded")
    sender = source_chat.bot.to_api() if source.from_bot else source_chat.user.to_api()
    message = call.store.add_message(
        chat,
        from_bot=True,
        content=dict(source.content),
        protect_content=call.params.get_bool("protect_content"),
        disable_notification=call.params.get_bool("disable_notification"),
        forward_origin={"type": "user", "sender_user": sender, "date": source.date},
    )
    return message.to_api(chat)


# -- editing and deleting ---------------------------------------------------------------------


@method("editMessageText")
async def edit_message_text(call: Call) -> Any:
    chat, message = message_to_edit(call)
    if "text" not in message.content:
        raise bad_request("there is no text in the message to edit")
    text, entities = message_text(call)
    return edited(call, chat, message, text_content(text, entities), reply_markup(call))


@method("editMessageCaption")
async def edit_message_caption(call: Call) -> Any:
    chat, message = message_to_edit(call)
    if "text" in message.content:
        raise bad_request("there is no caption in the message to edit")
    content = {k: v for k, v in message.content.items() if k not in ("caption", "caption_entities")}
    content.update(caption_content(call))
    return edited(call, chat, message, content, reply_markup(call))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> Any:
    chat, message = message_to_edit(call)
    return edited(call, chat, message, message.content, reply_markup(call))


def _delete(call: Call, chat: ChatState, message_id: int) -> bool:
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        return False
    if call.store.clock.time() - message.date > DELETE_WINDOW:
        raise bad_request("message can't be deleted for everyone")
    message.deleted = True
    call.store.touch(chat, message)
    return True


@method("deleteMessage")
async def delete_message(call: Call) -> Any:
    chat = target_chat(call, writing=False)
    if not _delete(call, chat, call.params.require_int("message_id", "message identifier is not specified")):
        raise bad_request("message to delete not found")
    return True


@method("deleteMessages")
async def delete_messages(call: Call) -> Any:
    chat = target_chat(call, writing=False)
    ids = call.params.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids must be a list of 1-100 identifiers")
    deleted = [_delete(call, chat, int(message_id)) for message_id in ids]
    if not any(deleted):
        raise bad_request("message to delete not found")
    return True


# -- callback queries -------------------------------------------------------------------------

QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> Any:
    store, p = call.store, call.params
    query_id = p.get_str("callback_query_id") or ""
    record = call.bot.callback_queries.get(query_id)
    now = store.clock.time()
    if (
        record is None
        or record.answered_at is not None
        or now - record.created_at > call.settings.callback_query_lifetime
    ):
        raise bad_request(QUERY_TOO_OLD)
    text = p.get_str("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    record.answered_at = now
    record.answer = {
        "text": text,
        "show_alert": p.get_bool("show_alert"),
        "url": p.get_str("url"),
        "cache_time": p.get_int("cache_time") or 0,
    }
    chat = call.bot.chats.get(record.chat_id)
    record.version = store.bump(chat)
    return True


# -- files ------------------------------------------------------------------------------------

MAX_DOWNLOAD = 20 * 1024 * 1024


@method("getFile")
async def get_file(call: Call) -> Any:
    file_id = call.params.get_str("file_id") or ""
    record = call.store.files.by_id.get(file_id)
    if record is None:
        raise bad_request("invalid file_id")
    if record.size > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return record.file_api()


# -- commands, menu button, profile texts -----------------------------------------------------


def scope_key(call: Call) -> str:
    scope = call.params.get_json("scope")
    if scope is None:
        return "default"
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return str(kind)
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat_id = scope.get("chat_id")
        if chat_id is None:
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        if chat_id not in call.store.users:
            raise bad_request("chat not found")
        if kind == "chat_member":
            return f"chat_member:{chat_id}:{scope.get('user_id')}"
        return f"{kind}:{chat_id}"
    raise bad_request("unsupported bot command scope type")


def language(call: Call) -> str:
    code = call.params.get_str("language_code") or ""
    if code and not _LANGUAGE.match(code):
        raise bad_request("invalid language code specified")
    return code


@method("setMyCommands")
async def set_my_commands(call: Call) -> Any:
    raw = call.params.get_json("commands")
    if not isinstance(raw, list):
        raise bad_request("can't parse commands JSON object")
    if len(raw) > 100:
        raise bad_request("too many commands")
    commands = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand JSON object")
        command = str(item.get("command", "")).lstrip("/")
        description = str(item.get("description", "")).strip()
        if not _COMMAND.match(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        commands.append({"command": command, "description": description})
    key = (scope_key(call), language(call))
    if commands:
        call.bot.commands[key] = commands
    else:
        call.bot.commands.pop(key, None)
    call.store.bump()
    return True


@method("getMyCommands")
async def get_my_commands(call: Call) -> Any:
    return call.bot.commands.get((scope_key(call), language(call)), [])


@method("deleteMyCommands")
async def delete_my_commands(call: Call) -> Any:
    call.bot.commands.pop((scope_key(call), language(call)), None)
    call.store.bump()
    return True


def _menu_target(call: Call) -> int | None:
    if not call.params.has("chat_id"):
        return None
    return target_chat(call, writing=False).id


@method("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> Any:
    target = _menu_target(call)
    button = call.params.get_json("menu_button")
    if button is None:
        call.bot.menu_buttons.pop(target, None)
    else:
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise bad_request("can't parse menu button JSON object")
        if button["type"] == "web_app" and (not button.get("text") or not isinstance(button.get("web_app"), dict)):
            raise bad_request("menu button must have text and web_app")
        call.bot.menu_buttons[target] = button
    call.store.bump()
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(call: Call) -> Any:
    target = _menu_target(call)
    buttons = call.bot.menu_buttons
    found = buttons.get(target) if target is not None else None
    return found or buttons.get(None) or {"type": "commands"}


def _text_setter(kind: str, limit: int, field: str) -> Handler:
    async def setter(call: Call) -> Any:
        value = call.params.get_str(field) or ""
        if len(value) > limit:
            raise bad_request(f"{kind.replace('_', ' ')} is too long")
        key = (kind, language(call))
        if value:
            call.bot.texts[key] = value
        else:
            call.bot.texts.pop(key, None)
        call.store.bump()
        return True

    return setter


def _text_getter(kind: str, field: str) -> Handler:
    async def getter(call: Call) -> Any:
        lang = language(call)
        texts = call.bot.texts
        value = texts.get((kind, lang)) or texts.get((kind, ""))
        if kind == "name":
            value = value or call.bot.first_name
        return {field: value or ""}

    return getter


for _kind, _limit, _field, _suffix in (
    ("description", 512, "description", "Description"),
    ("short_description", 120, "short_description", "ShortDescription"),
    ("name", 64, "name", "Name"),
):
    method(f"setMy{_suffix}")(_text_setter(_kind, _limit, _field))
    method(f"getMy{_suffix}")(_text_getter(_kind, _field))


@method("getChat")
async def get_chat(call: Call) -> Any:
    chat = target_chat(call, writing=False)
    info: JsonObject = {
        **chat.user.chat_api(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": True,
            "limited_gifts": True,
            "unique_gifts": True,
            "premium_subscription": True,
            "gifts_from_channels": True,
        },
    }
    return info


@method("getChatMember")
async def get_chat_member(call: Call) -> Any:
    chat = target_chat(call, writing=False)
    user_id = call.params.require_int("user_id", "user_id is empty")
    if user_id == call.bot.id:
        return {"status": "member", "user": call.bot.to_api()}
    if user_id != chat.user.id:
        raise bad_request("user not found")
    return {"status": "member", "user": chat.user.to_api()}

