"""The emulated Telegram state: bots, users, private chats, messages, pending updates.

One `Store` per emulator instance. Users are global (like Telegram accounts); everything a bot sees
(its chats, updates, commands, webhook) hangs off its `BotAccount`, so several bots can share one
emulator. Every visible change bumps a global `version` and wakes long polls; a chat remembers the
version of its latest change so the chat page can ask "what changed after version N".
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .entities import Entity, render_html
from .errors import bad_request, forbidden
from .files import FileStore
from .markup import Markup, is_inline
from .notifier import Notifier

JsonObject = dict[str, Any]

UPDATE_LIFETIME = 24 * 60 * 60  # Telegram keeps undelivered updates for 24 hours.
# Update types delivered when a bot does not list allowed_updates (Bot API default).
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TOKEN = re.compile(r"^(\d+):[\w-]+$")


@dataclass
class UserAccount:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    # A user who has never pressed Start can't be written to first (403). Test users start every bot
    # by default; pass started=False to test "bot can't initiate conversation".
    started: bool = True

    def to_api(self) -> JsonObject:
        user: JsonObject = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        if self.is_premium:
            user["is_premium"] = True
        return user

    def chat_api(self) -> JsonObject:
        chat: JsonObject = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    def to_json(self) -> JsonObject:
        return {**self.to_api(), "started": self.started}


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    allowed_updates: list[str] | None = None
    has_custom_certificate: bool = False


@dataclass
class DeliveryRecord:
    """One attempt to POST an update to the webhook."""

    time: float
    update_id: int
    url: str
    status: int | None
    error: str | None
    duration: float
    reply_method: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> JsonObject:
        return {
            "time": self.time,
            "update_id": self.update_id,
            "url": self.url,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
            "duration": round(self.duration, 4),
            "reply_method": self.reply_method,
        }


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    payload: JsonObject
    created_at: float


@dataclass
class CallbackQueryRecord:
    id: str
    bot_id: int
    chat_id: int
    user_id: int
    message_id: int
    data: str
    chat_instance: str
    created_at: float
    forged: bool = False
    answered_at: float | None = None
    answer: JsonObject | None = None
    version: int = 0
    update_id: int | None = None

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "chat_id": self.chat_id,
            "user_id": self.user_id,
            "message_id": self.message_id,
            "data": self.data,
            "chat_instance": self.chat_instance,
            "forged": self.forged,
            "answered": self.answered_at is not None,
            "answered_after": None if self.answered_at is None else round(self.answered_at - self.created_at, 3),
            "answer": self.answer,
            "version": self.version,
            "update_id": self.update_id,
        }


@dataclass
class BotAccount:
    id: int
    token: str
    username: str
    first_name: str
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = False
    updates: deque[PendingUpdate] = field(default_factory=deque)
    next_update_id: int = 1
    allowed_updates: frozenset[str] | None = None
    webhook: WebhookConfig | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    commands: dict[tuple[str, str], list[JsonObject]] = field(default_factory=dict)
    menu_buttons: dict[int | None, JsonObject] = field(default_factory=dict)
    texts: dict[tuple[str, str], str] = field(default_factory=dict)  # (description|short_description|name, lang)
    chats: dict[int, ChatState] = field(default_factory=dict)
    blocked_by: set[int] = field(default_factory=set)
    started_by: set[int] = field(default_factory=set)
    callback_queries: dict[str, CallbackQueryRecord] = field(default_factory=dict)
    poll_generation: int = 0
    deliveries: list[DeliveryRecord] = field(default_factory=list)

    def clear(self) -> None:
        """Drop chats, updates, webhook and settings, keeping the account (token, names) itself.

        The object stays the same so that tasks holding it (webhook delivery) see the change.
        """
        fresh = BotAccount(id=self.id, token=self.token, username=self.username, first_name=self.first_name)
        self.__dict__.update(fresh.__dict__)

    def to_api(self) -> JsonObject:
        """The full `User` getMe returns; aiogram requires is_bot and reads the capability flags."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def to_json(self) -> JsonObject:
        return {**self.to_api(), "token": self.token, "webhook": self.webhook.url if self.webhook else None}

    def wants(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self.allowed_updates

    def set_allowed_updates(self, allowed: list[str] | None) -> None:
        self.allowed_updates = frozenset(allowed) if allowed else None

    def effective_commands(self, chat_id: int, language_code: str | None) -> list[JsonObject]:
        """Commands a private chat's "/" menu shows: Telegram's scope and language fallback order."""
        language = (language_code or "")[:2].lower()
        chat_scope = f"chat:{chat_id}"
        for scope in (chat_scope, "all_private_chats", "default"):
            for lang in ((language, "") if language else ("",)):
                commands = self.commands.get((scope, lang))
                if commands:
                    return commands
        return []


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    content: JsonObject
    reply_markup: Markup | None = None  # inline keyboard: the only markup a Message object shows
    keyboard: Markup | None = None  # reply keyboard / remove / force reply sent along (client side)
    protect_content: bool = False
    disable_notification: bool = False
    reply_to: StoredMessage | None = None
    forward_origin: JsonObject | None = None
    edit_date: int | None = None
    deleted: bool = False
    version: int = 0
    update_id: int | None = None  # for a user's message: the update it produced (None if filtered out)

    @property
    def text(self) -> str:
        return str(self.content.get("text", self.content.get("caption", "")))

    @property
    def entities(self) -> list[Entity]:
        found: list[Entity] = self.content.get("entities") or self.content.get("caption_entities") or []
        return list(found)

    @property
    def html(self) -> str:
        return render_html(self.text, self.entities)

    @property
    def kind(self) -> str:
        for key in ("text", "photo", "document", "sticker", "voice", "audio", "video", "animation", "contact"):
            if key in self.content:
                return key
        return next(iter(self.content), "empty")

    def to_api(self, chat: ChatState, *, nested: bool = False) -> JsonObject:
        message: JsonObject = {
            "message_id": self.message_id,
            "from": chat.bot.to_api() if self.from_bot else chat.user.to_api(),
            "chat": chat.user.chat_api(),
            "date": self.date,
        }
        if self.forward_origin is not None:
            message["forward_origin"] = self.forward_origin
        if self.reply_to is not None and not nested:
            message["reply_to_message"] = self.reply_to.to_api(chat, nested=True)
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.protect_content:
            message["has_protected_content"] = True
        message.update(self.content)
        if self.reply_markup is not None:
            message["reply_markup"] = self.reply_markup
        return message

    def view(self, chat: ChatState) -> JsonObject:
        """The control API's picture of the message, as a person looking at the chat sees it."""
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from_bot": self.from_bot,
            "kind": self.kind,
            "date": self.date,
            "text": self.text,
            "entities": self.entities,
            "html": self.html,
            "reply_markup": self.reply_markup,
            "keyboard": self.keyboard,
            "deleted": self.deleted,
            "edit_date": self.edit_date,
            "protect_content": self.protect_content,
            "disable_notification": self.disable_notification,
            "reply_to_message_id": self.reply_to.message_id if self.reply_to else None,
            "version": self.version,
            "update_id": self.update_id,
            "message": self.to_api(chat),
        }


@dataclass
class ChatState:
    """A private chat between one bot and one user (its id is the user's id)."""

    bot: BotAccount
    user: UserAccount
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: Markup | None = None
    action: str | None = None
    action_until: float = 0.0
    version: int = 0
    last_user_version: int = 0

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def chat_instance(self) -> str:
        # Stable per chat like Telegram's, which aiogram requires in every callback query.
        return str((self.bot.id * 7_919 + self.user.id * 104_729) % 9_000_000_000_000_000_000 + 10**18)

    def visible(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if not m.deleted]


class Store:
    def __init__(self, clock: Clock, notifier: Notifier) -> None:
        self.clock = clock
        self.notifier = notifier
        self.bots: dict[str, BotAccount] = {}
        self.default_token: str | None = None
        self.users: dict[int, UserAccount] = {}
        self.files = FileStore()
        self.version = 0
        self._callback_counter = 0

    # -- versions -----------------------------------------------------------------------------
    def bump(self, chat: ChatState | None = None) -> int:
        self.version += 1
        if chat is not None:
            chat.version = self.version
        self.notifier.notify()
        return self.version

    # -- bots ---------------------------------------------------------------------------------
    def add_bot(self, token: str, username: str, first_name: str) -> BotAccount:
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"bot token must look like '<digits>:<secret>', got {token!r}")
        if token in self.bots:
            raise ValueError(f"a bot with token {token!r} already exists")
        bot = BotAccount(id=int(match.group(1)), token=token, username=username, first_name=first_name)
        self.bots[token] = bot
        if self.default_token is None:
            self.default_token = token
        self.bump()
        return bot

    def find_bot(self, ref: str | int | None = None) -> BotAccount:
        """A bot by token, username (with or without @) or id; None means the default bot."""
        if ref is None or ref == "":
            if self.default_token is None:
                raise KeyError("the emulator has no bot")
            return self.bots[self.default_token]
        text = str(ref).lstrip("@")
        for bot in self.bots.values():
            if text in (bot.token, bot.username, str(bot.id)):
                return bot
        raise KeyError(f"no bot {ref!r}")

    # -- users and chats ----------------------------------------------------------------------
    def upsert_user(self, user_id: int, **fields: Any) -> UserAccount:
        user = self.users.get(user_id)
        present = {key: value for key, value in fields.items() if value is not None}
        if user is None:
            present.setdefault("first_name", f"User {user_id}")
            user = UserAccount(id=user_id, **present)
            self.users[user_id] = user
        else:
            for key, value in present.items():
                setattr(user, key, value)
        self.bump()
        return user

    def chat(self, bot: BotAccount, user_id: int) -> ChatState:
        """The chat's state, created on first use; the user must exist (control side)."""
        chat = bot.chats.get(user_id)
        if chat is None:
            user = self.users.get(user_id)
            if user is None:
                raise KeyError(f"no user {user_id}")
            chat = ChatState(bot=bot, user=user)
            bot.chats[user_id] = chat
        return chat

    def chat_for_bot(self, bot: BotAccount, chat_id: int | str, *, writing: bool) -> ChatState:
        """The chat a Bot API call names, with Telegram's errors for unknown or unreachable chats."""
        if isinstance(chat_id, str) or chat_id not in self.users:
            raise bad_request("chat not found")
        user = self.users[chat_id]
        if writing:
            if chat_id in bot.blocked_by:
                raise forbidden("bot was blocked by the user")
            if not user.started and chat_id not in bot.started_by:
                raise forbidden("bot can't initiate conversation with a user")
        return self.chat(bot, chat_id)

    # -- messages -----------------------------------------------------------------------------
    def add_message(
        self,
        chat: ChatState,
        *,
        from_bot: bool,
        content: JsonObject,
        markup: Markup | None = None,
        protect_content: bool = False,
        disable_notification: bool = False,
        reply_to: StoredMessage | None = None,
        forward_origin: JsonObject | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat.id,
            from_bot=from_bot,
            date=self.clock.now(),
            content=content,
            reply_markup=markup if is_inline(markup) else None,
            keyboard=markup if markup is not None and not is_inline(markup) else None,
            protect_content=protect_content,
            disable_notification=disable_notification,
            reply_to=reply_to,
            forward_origin=forward_origin,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        if from_bot:
            chat.action = None  # a sent message ends the "typing…" status, as in Telegram clients
            if message.keyboard is not None and "force_reply" not in message.keyboard:
                chat.reply_keyboard = None if "remove_keyboard" in message.keyboard else message.keyboard
        message.version = self.bump(chat)
        return message

    def touch(self, chat: ChatState, message: StoredMessage) -> None:
        message.version = self.bump(chat)

    # -- updates ------------------------------------------------------------------------------
    def enqueue_update(self, bot: BotAccount, kind: str, payload: JsonObject) -> int | None:
        """Queue an update unless the bot's allowed_updates filters it out; its id, or None."""
        if not bot.wants(kind):
            return None
        update_id = bot.next_update_id
        bot.next_update_id += 1
        bot.updates.append(PendingUpdate(update_id, kind, {"update_id": update_id, kind: payload}, self.clock.time()))
        self.bump()
        return update_id

    def pending(self, bot: BotAccount) -> deque[PendingUpdate]:
        horizon = self.clock.time() - UPDATE_LIFETIME
        while bot.updates and bot.updates[0].created_at < horizon:
            bot.updates.popleft()
        return bot.updates

    def confirm(self, bot: BotAccount, offset: int | None) -> None:
        """getUpdates `offset`: forget updates below it; a negative offset keeps only the last -offset."""
        if offset is None or offset == 0:
            return
        if offset > 0:
            while bot.updates and bot.updates[0].update_id < offset:
                bot.updates.popleft()
        else:
            while len(bot.updates) > -offset:
                bot.updates.popleft()

    # -- callback queries ---------------------------------------------------------------------
    def new_callback_id(self) -> str:
        self._callback_counter += 1
        return str(4_611_686_018_427_387_904 + self._callback_counter * 7_919)

    def find_callback(self, callback_query_id: str) -> CallbackQueryRecord | None:
        for bot in self.bots.values():
            record = bot.callback_queries.get(callback_query_id)
            if record is not None:
                return record
        return None

    # -- reset --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget users, chats, files and each bot's state, keeping the bot accounts."""
        for bot in self.bots.values():
            bot.clear()
        self.users.clear()
        self.files.clear()
        self.bump()

