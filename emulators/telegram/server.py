"""`TelegramEmulator`: one self-contained fake Telegram (Bot API + control API + chat page).

Usage in a test::

    emu = TelegramEmulator()
    await emu.start(port=0)
    bot = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    emu.user_sends(1001, "/start")
    reply = await emu.wait_for_message(1001)
    await emu.stop()

State lives in memory and belongs to the instance, so every test gets a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from . import client
from .botapi import BotApi
from .calllog import CallLog, CallRecord
from .clock import Clock
from .control import ControlApi
from .errors import ControlError
from .limits import Fault, FaultPlan, Limits, RateLimiter
from .notifier import Closed, Notifier
from .page import page_routes
from .params import Upload
from .settings import Settings
from .store import BotAccount, CallbackQueryRecord, DeliveryRecord, JsonObject, Store, StoredMessage, UserAccount
from .webhook import WebhookDeliverer

DEFAULT_TOKEN = "123456789:TEST-medcab-emulator-token"  # noqa: S105 - a fake token for a fake server
DEFAULT_USERNAME = "medcab_test_bot"
DEFAULT_FIRST_NAME = "Medcab Test Bot"

MessagePredicate = Callable[[StoredMessage], bool]


class TelegramEmulator:
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_USERNAME,
        bot_first_name: str = DEFAULT_FIRST_NAME,
        *,
        limits: Limits | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock = Clock()
        self.notifier = Notifier()
        self.store = Store(self.clock, self.notifier)
        self.calls = CallLog(self.notifier)
        self.limiter = RateLimiter(self.clock, limits)
        self.faults = FaultPlan()
        self.webhooks = WebhookDeliverer(self.store, self.settings, self._apply_webhook_reply)
        self.api = BotApi(self.store, self.settings, self.limiter, self.faults, self.calls, self.webhooks)
        self.control = ControlApi(self)
        self.store.add_bot(token, bot_username, bot_first_name)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.api.routes())
        app.add_routes(self.control.routes())
        app.add_routes(page_routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self.notifier.reopen()
        self.webhooks.reopen()
        # Long polls are released by stop() itself, so a short shutdown timeout is enough.
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.host = host
        # With port 0 the OS picks a free port; the runner knows which.
        self.port = int(runner.addresses[0][1])
        for bot in self.store.bots.values():
            self.webhooks.webhook_changed(bot)

    async def stop(self) -> None:
        """Stop serving; long polls and webhook deliveries end at once."""
        self.notifier.close()
        await self.webhooks.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> TelegramEmulator:
        await self.start(self.host, self.port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def started(self) -> bool:
        return self._runner is not None

    @property
    def base_url(self) -> str:
        """The Bot API server base, for `TelegramAPIServer.from_base(emu.base_url)`."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def chat_url(self, user_id: int | None = None, name: str | None = None) -> str:
        """The chat page URL, optionally for a given user."""
        query: dict[str, str] = {}
        if user_id is not None:
            query["user"] = str(user_id)
        if name:
            query["name"] = name
        return f"{self.base_url}/" + (f"?{urlencode(query)}" if query else "")

    # -- bots and users -----------------------------------------------------------------------
    @property
    def bot(self) -> BotAccount:
        """The default bot (the one created by the constructor)."""
        return self.store.find_bot()

    @property
    def token(self) -> str:
        return self.bot.token

    def create_bot(self, token: str, username: str, first_name: str = "Test Bot") -> BotAccount:
        return self.store.add_bot(token, username, first_name)

    def create_user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        started: bool = True,
    ) -> UserAccount:
        """Create (or update the given fields of) a user; `started=False`: never pressed Start."""
        return self.store.upsert_user(
            user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )

    def _bot(self, bot: str | int | None) -> BotAccount:
        try:
            return self.store.find_bot(bot)
        except KeyError as error:
            raise ControlError(404, str(error.args[0])) from error

    # -- what users do ------------------------------------------------------------------------
    def user_sends(
        self,
        user_id: int,
        text: str | None = None,
        *,
        sticker: Any = None,
        photo: Any = None,
        voice: Any = None,
        document: Any = None,
        contact: Any = None,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        bot: str | int | None = None,
    ) -> StoredMessage:
        """A user sends the bot a message; unknown users are created on the fly.

        Media are given as dicts: `document={"file_name": "a.pdf", "data": b"..."}`,
        `photo={"data": png_bytes}`, `sticker="👍"`, `voice={"duration": 3}`,
        `contact={"phone_number": "+7…"}`.
        """
        if user_id not in self.store.users:
            self.create_user(user_id)
        fields = {
            "text": text,
            "sticker": sticker,
            "photo": photo,
            "voice": voice,
            "document": document,
            "contact": contact,
            "caption": caption,
            "reply_to_message_id": reply_to_message_id,
        }
        return client.send_message(self.store, self._bot(bot), user_id, fields)

    def user_edits(self, user_id: int, message_id: int, text: str, *, bot: str | int | None = None) -> StoredMessage:
        return client.edit_message(self.store, self._bot(bot), user_id, message_id, text)

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str | None = None,
        *,
        text: str | None = None,
        forge: bool = False,
        bot: str | int | None = None,
    ) -> CallbackQueryRecord:
        """Press an inline button by its callback_data (or its text). Refused with ControlError(409)
        when the message has no such button, unless `forge=True`."""
        return client.press_button(
            self.store, self._bot(bot), chat_id, message_id, callback_data, text=text, forge=forge
        )

    def block(self, user_id: int, *, bot: str | int | None = None, notify: bool = True) -> int | None:
        """The user blocks the bot; returns the my_chat_member update id (None with
        ``notify=False``: the update was lost, see ``client.set_blocked``)."""
        return client.set_blocked(self.store, self._bot(bot), user_id, True, notify=notify)

    def unblock(self, user_id: int, *, bot: str | int | None = None) -> int | None:
        return client.set_blocked(self.store, self._bot(bot), user_id, False)

    # -- what the test looks at ---------------------------------------------------------------
    def messages(
        self, chat_id: int, *, bot: str | int | None = None, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """A chat's messages in order (both sides); deleted ones only on request."""
        chat = self._bot(bot).chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if include_deleted or not m.deleted]

    def bot_messages(self, chat_id: int, *, bot: str | int | None = None) -> list[StoredMessage]:
        return [m for m in self.messages(chat_id, bot=bot) if m.from_bot]

    def last_message(self, chat_id: int, *, bot: str | int | None = None) -> StoredMessage | None:
        """The bot's latest visible message in the chat."""
        found = self.bot_messages(chat_id, bot=bot)
        return found[-1] if found else None

    def view(self, chat_id: int, message: StoredMessage, *, bot: str | int | None = None) -> JsonObject:
        return message.view(self.store.chat(self._bot(bot), chat_id))

    def reply_keyboard(self, chat_id: int, *, bot: str | int | None = None) -> JsonObject | None:
        chat = self._bot(bot).chats.get(chat_id)
        return None if chat is None else chat.reply_keyboard

    def callback_queries(
        self, chat_id: int | None = None, *, bot: str | int | None = None
    ) -> list[CallbackQueryRecord]:
        records = self._bot(bot).callback_queries.values()
        return [r for r in records if chat_id is None or r.chat_id == chat_id]

    def call_log(self, method: str | None = None, *, ok: bool | None = None) -> list[CallRecord]:
        """Recorded Bot API calls, optionally of one method (case-insensitive) or outcome."""
        return self.calls.filter(method, ok=ok)

    def uploads(self, method: str | None = None) -> list[Upload]:
        return [upload for record in self.calls.filter(method) for upload in record.files]

    def pending_updates(self, *, bot: str | int | None = None) -> list[JsonObject]:
        return [u.payload for u in self.store.pending(self._bot(bot))]

    def webhook_deliveries(self, *, bot: str | int | None = None) -> list[DeliveryRecord]:
        return list(self._bot(bot).deliveries)

    def commands_for(
        self, user_id: int, language_code: str | None = None, *, bot: str | int | None = None
    ) -> list[JsonObject]:
        """The commands the user's "/" menu shows (scope and language fallback applied)."""
        user = self.store.users.get(user_id)
        language = language_code or (user.language_code if user else None)
        return self._bot(bot).effective_commands(user_id, language)

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test helper signature
        *,
        bot: str | int | None = None,
        after_version: int | None = None,
    ) -> StoredMessage:
        """Wait for a bot message in the chat that is new or changed since the user's last action
        (or since `after_version`) and matches `predicate`; the earliest such message wins."""
        account = self._bot(bot)
        if chat_id not in self.store.users:
            self.create_user(chat_id)
        chat = self.store.chat(account, chat_id)
        since = chat.last_user_version if after_version is None else after_version
        found: list[StoredMessage] = []

        def ready() -> bool:
            for message in chat.messages.values():
                fresh = message.from_bot and not message.deleted and message.version > since
                if fresh and (predicate is None or predicate(message)):
                    found.append(message)
                    return True
            return False

        try:
            matched = await self.notifier.wait_for(ready, timeout)
        except Closed:
            matched = False
        if not matched:
            seen = [f"#{m.message_id} {m.text[:60]!r}" for m in chat.messages.values() if m.from_bot]
            raise TimeoutError(f"no matching bot message in chat {chat_id} within {timeout}s; bot messages: {seen}")
        return found[0]

    async def wait_for_calls(
        self,
        method: str | None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test helper signature
        *,
        include_active: bool = False,
    ) -> list[CallRecord]:
        """Wait until `count` calls of `method` (all methods if None) have been answered; with
        `include_active`, calls still being answered (a waiting long poll) count too."""
        return await self.calls.wait_for(method, count, timeout, include_active=include_active)

    def active_calls(self, method: str | None = None) -> int:
        """How many calls (of `method`) are being answered right now, e.g. a waiting getUpdates."""
        return self.calls.active_count(method)

    # -- limits, faults, time -----------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        return self.limiter.limits

    def set_limits(
        self,
        global_per_second: float | None = None,
        per_chat_per_second: float | None = None,
        per_chat_per_minute: int | None = None,
    ) -> None:
        """Replace the flood limits (None switches a rule off)."""
        self.limiter.limits = Limits(global_per_second, per_chat_per_second, per_chat_per_minute)

    def inject_fault(self, method: str, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` calls of `method` ("*" = any) with `fault`."""
        self.faults.inject(method, fault, times)

    def set_random_faults(
        self,
        rate: float,
        *,
        seed: int | None = None,
        methods: list[str] | None = None,
        faults: list[Fault] | None = None,
    ) -> None:
        self.faults.set_random(rate, seed=seed, methods=methods, faults=faults)

    def clear_faults(self) -> None:
        self.faults.clear()

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock forward (callback query expiry, 24 h update lifetime, limits)."""
        self.clock.advance(seconds)
        self.store.bump()

    def reset(self) -> None:
        """Back to a fresh state with the same bot accounts (users, chats, calls, limits, faults gone)."""
        self.store.reset()
        self.calls.clear()
        self.limiter.reset()
        self.faults.clear()
        self.clock.reset()

    # -- webhook replies ----------------------------------------------------------------------
    async def _apply_webhook_reply(
        self, bot: BotAccount, method: str, values: dict[str, Any], uploads: dict[str, Upload]
    ) -> None:
        # Telegram executes a method returned in a webhook response but never reports its outcome.
        await self.api.execute(bot, method, values, uploads, source="webhook_reply")

