"""The control API under `/_emulator/`: the test's and the chat page's side of the emulator.

JSON in, JSON out. Refusals are `{"ok": false, "error": "..."}` with 400 (bad input), 404 (unknown
bot, user, chat or message) or 409 (an action a real client couldn't do, e.g. pressing a button
that is not on the message).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from .errors import ControlError
from .limits import Fault
from .notifier import Closed
from .store import BotAccount, JsonObject

if TYPE_CHECKING:
    from .server import TelegramEmulator

PREFIX = "/_emulator"
MAX_WAIT = 30.0
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ok(data: Any = None, status: int = 200) -> web.Response:
    body: JsonObject = {"ok": True}
    if data is not None:
        body["result"] = data
    return web.json_response(body, status=status)


def refuse(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def guarded(handler: RouteHandler) -> RouteHandler:
    """Turn the emulator's refusals into JSON answers instead of 500s."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as error:
            return refuse(error.status, error.message)
        except KeyError as error:
            return refuse(404, str(error.args[0]) if error.args else "not found")
        except (ValueError, TypeError) as error:
            return refuse(400, str(error))

    return wrapper


async def body(request: web.Request) -> JsonObject:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON body: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("JSON object expected")
    return data


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


class ControlApi:
    def __init__(self, emulator: TelegramEmulator) -> None:
        self.emu = emulator

    def routes(self) -> list[web.RouteDef]:
        table: list[tuple[str, str, RouteHandler]] = [
            ("GET", "", self.info),
            ("GET", "/bots", self.list_bots),
            ("POST", "/bots", self.create_bot),
            ("GET", "/users", self.list_users),
            ("POST", "/users", self.create_user),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/{user_id}/block", self.block),
            ("POST", "/users/{user_id}/unblock", self.unblock),
            ("GET", "/chats/{chat_id}/messages", self.chat_messages),
            ("POST", "/chats/{chat_id}/messages", self.user_sends),
            ("POST", "/chats/{chat_id}/messages/{message_id}/edit", self.user_edits),
            ("POST", "/chats/{chat_id}/press", self.press),
            ("GET", "/chats/{chat_id}/commands", self.chat_commands),
            ("GET", "/callbacks", self.callbacks),
            ("GET", "/calls", self.calls),
            ("DELETE", "/calls", self.clear_calls),
            ("GET", "/updates", self.updates),
            ("GET", "/webhook", self.webhook),
            ("GET", "/limits", self.get_limits),
            ("PUT", "/limits", self.set_limits),
            ("POST", "/limits", self.set_limits),
            ("GET", "/faults", self.get_faults),
            ("POST", "/faults", self.add_fault),
            ("DELETE", "/faults", self.clear_faults),
            ("POST", "/faults/random", self.random_faults),
            ("POST", "/time/advance", self.advance_time),
            ("POST", "/reset", self.reset),
            ("GET", "/files/{file_id}", self.file),
        ]
        routes = [web.route(verb, PREFIX + path, guarded(handler)) for verb, path, handler in table]
        routes.append(web.get(PREFIX + "/", guarded(self.info)))
        return routes

    # -- helpers ------------------------------------------------------------------------------
    def _bot(self, request: web.Request, data: JsonObject | None = None) -> BotAccount:
        ref = (data or {}).get("bot") or request.query.get("bot")
        return self.emu.store.find_bot(ref)

    @staticmethod
    def _int(request: web.Request, name: str) -> int:
        try:
            return int(request.match_info[name])
        except ValueError as error:
            raise ValueError(f"{name} must be an integer") from error

    # -- bots and users -----------------------------------------------------------------------
    async def info(self, request: web.Request) -> web.StreamResponse:
        store = self.emu.store
        return ok(
            {
                "base_url": self.emu.base_url if self.emu.started else None,
                "version": store.version,
                "default_bot": store.find_bot().to_json() if store.bots else None,
                "bots": [bot.to_json() for bot in store.bots.values()],
                "users": [user.to_json() for user in store.users.values()],
                "limits": self.emu.limits.to_json(),
            }
        )

    async def list_bots(self, request: web.Request) -> web.StreamResponse:
        return ok([bot.to_json() for bot in self.emu.store.bots.values()])

    async def create_bot(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        bot = self.emu.create_bot(
            str(data["token"]), str(data.get("username", "test_bot")), str(data.get("first_name", "Test Bot"))
        )
        return ok(bot.to_json(), status=201)

    async def list_users(self, request: web.Request) -> web.StreamResponse:
        return ok([user.to_json() for user in self.emu.store.users.values()])

    async def create_user(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        if "id" not in data:
            raise ValueError("id is required")
        user = self.emu.create_user(
            int(data["id"]),
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            username=data.get("username"),
            language_code=data.get("language_code"),
            started=flag(data.get("started", True)),
        )
        return ok(user.to_json())

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        user_id = self._int(request, "user_id")
        user = self.emu.store.users.get(user_id)
        if user is None:
            return refuse(404, f"no user {user_id}")
        bot = self._bot(request)
        return ok({**user.to_json(), "blocked": user_id in bot.blocked_by})

    async def block(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        update_id = self.emu.block(self._int(request, "user_id"), bot=self._bot(request, data).token)
        return ok({"update_id": update_id})

    async def unblock(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        update_id = self.emu.unblock(self._int(request, "user_id"), bot=self._bot(request, data).token)
        return ok({"update_id": update_id})

    # -- chats --------------------------------------------------------------------------------
    async def chat_messages(self, request: web.Request) -> web.StreamResponse:
        """Messages changed after `?after=<version>`, waiting up to `?wait=<seconds>` for a change."""
        emu = self.emu
        bot = self._bot(request)
        chat_id = self._int(request, "chat_id")
        if chat_id not in emu.store.users:
            return refuse(404, f"no user {chat_id}")
        chat = emu.store.chat(bot, chat_id)
        after = int(request.query.get("after", "0") or 0)
        wait = min(float(request.query.get("wait", "0") or 0), MAX_WAIT)
        if wait > 0:
            with contextlib.suppress(Closed):  # shutting down: answer with what there is
                # A reset replaces the chat object: stop waiting on the old one.
                await emu.store.notifier.wait_for(
                    lambda: chat.version > after or bot.chats.get(chat_id) is not chat, wait
                )
            if bot.chats.get(chat_id) is not chat:
                return refuse(404, f"chat {chat_id} was reset")
        include_deleted = after > 0 or flag(request.query.get("include_deleted", ""))
        now = emu.clock.time()
        messages = [
            m.view(chat)
            for m in chat.messages.values()
            if m.version > after and (include_deleted or not m.deleted)
        ]
        answers = [
            record.to_json()
            for record in bot.callback_queries.values()
            if record.chat_id == chat_id and record.answer is not None and record.version > after
        ]
        description = bot.texts.get(("description", (chat.user.language_code or "")[:2])) or bot.texts.get(
            ("description", "")
        )
        return ok(
            {
                "version": emu.store.version,
                "chat": {
                    **chat.user.chat_api(),
                    "blocked": chat_id in bot.blocked_by,
                    "bot": bot.to_api(),
                    "description": description,
                },
                "messages": messages,
                "callback_answers": answers,
                "reply_keyboard": chat.reply_keyboard,
                "action": chat.action if chat.action and chat.action_until > now else None,
                "action_seconds": max(0.0, round(chat.action_until - now, 2)) if chat.action else 0,
                "commands": bot.effective_commands(chat_id, chat.user.language_code),
            }
        )

    async def user_sends(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        bot = self._bot(request, data)
        chat_id = self._int(request, "chat_id")
        sent = self.emu.user_sends(chat_id, bot=bot.token, **_message_fields(data))
        chat = self.emu.store.chat(bot, chat_id)
        return ok({"message": sent.view(chat), "update_id": sent.update_id}, status=201)

    async def user_edits(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        bot = self._bot(request, data)
        chat_id = self._int(request, "chat_id")
        message = self.emu.user_edits(chat_id, self._int(request, "message_id"), str(data["text"]), bot=bot.token)
        return ok({"message": message.view(self.emu.store.chat(bot, chat_id))})

    async def press(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        bot = self._bot(request, data)
        if "message_id" not in data:
            raise ValueError("message_id is required")
        record = self.emu.press_button(
            self._int(request, "chat_id"),
            int(data["message_id"]),
            data.get("callback_data"),
            text=data.get("text"),
            forge=flag(data.get("forge", False)),
            bot=bot.token,
        )
        return ok({**record.to_json(), "callback_query_id": record.id})

    async def chat_commands(self, request: web.Request) -> web.StreamResponse:
        bot = self._bot(request)
        chat_id = self._int(request, "chat_id")
        user = self.emu.store.users.get(chat_id)
        language = request.query.get("language_code") or (user.language_code if user else None)
        return ok(bot.effective_commands(chat_id, language))

    async def callbacks(self, request: web.Request) -> web.StreamResponse:
        bot = self._bot(request)
        chat_id = request.query.get("chat_id")
        after = int(request.query.get("after", "0") or 0)
        records = [
            r.to_json()
            for r in bot.callback_queries.values()
            if (chat_id is None or r.chat_id == int(chat_id)) and r.version > after
        ]
        return ok(records)

    # -- call log, updates, webhook -----------------------------------------------------------
    async def calls(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        ok_filter = None if "ok" not in query else flag(query["ok"])
        records = self.emu.calls.filter(query.get("method"), after=int(query.get("after", "0") or 0), ok=ok_filter)
        with_data = flag(query.get("data", "1"))
        return ok([record.to_json(with_data=with_data) for record in records])

    async def clear_calls(self, request: web.Request) -> web.StreamResponse:
        self.emu.calls.clear()
        return ok()

    async def updates(self, request: web.Request) -> web.StreamResponse:
        bot = self._bot(request)
        return ok([u.payload for u in self.emu.store.pending(bot)])

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        bot = self._bot(request)
        hook = bot.webhook
        return ok(
            {
                "url": hook.url if hook else None,
                "secret_token_set": bool(hook and hook.secret_token),
                "pending_update_count": len(self.emu.store.pending(bot)),
                "last_error_message": bot.last_error_message,
                "deliveries": [d.to_json() for d in bot.deliveries],
            }
        )

    # -- limits and faults --------------------------------------------------------------------
    async def get_limits(self, request: web.Request) -> web.StreamResponse:
        return ok(self.emu.limits.to_json())

    async def set_limits(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        self.emu.set_limits(
            global_per_second=data.get("global_per_second"),
            per_chat_per_second=data.get("per_chat_per_second"),
            per_chat_per_minute=data.get("per_chat_per_minute"),
        )
        return ok(self.emu.limits.to_json())

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        plan = self.emu.faults
        random_plan = plan.random
        return ok(
            {
                "queued": plan.pending(),
                "random": None
                if random_plan is None
                else {
                    "rate": random_plan.rate,
                    "seed": random_plan.seed,
                    "methods": sorted(random_plan.methods) if random_plan.methods else None,
                },
            }
        )

    async def add_fault(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        method = str(data.get("method", "*"))
        self.emu.inject_fault(method, Fault.from_json(data), times=int(data.get("times", 1)))
        return ok(self.emu.faults.pending(), status=201)

    async def clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.emu.clear_faults()
        return ok()

    async def random_faults(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        faults = [Fault.from_json(item) for item in data.get("faults", [])] or None
        self.emu.set_random_faults(
            float(data.get("rate", 0)),
            seed=None if data.get("seed") is None else int(data["seed"]),
            methods=data.get("methods"),
            faults=faults,
        )
        return ok()

    # -- time, reset, files -------------------------------------------------------------------
    async def advance_time(self, request: web.Request) -> web.StreamResponse:
        data = await body(request)
        self.emu.advance_time(float(data["seconds"]))
        return ok({"time": self.emu.clock.time()})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.emu.reset()
        return ok()

    async def file(self, request: web.Request) -> web.StreamResponse:
        record = self.emu.store.files.by_id.get(request.match_info["file_id"])
        if record is None:
            return refuse(404, "no such file")
        name = record.file_name or record.file_path.rsplit("/", 1)[-1]
        disposition = "inline" if flag(request.query.get("inline", "")) else "attachment"
        # Headers are Latin-1: an ASCII fallback name plus the RFC 5987 UTF-8 one (Cyrillic names).
        fallback = name.encode("ascii", "replace").decode("ascii").replace('"', "").replace("?", "_")
        return web.Response(
            body=record.data,
            content_type=record.mime_type or "application/octet-stream",
            headers={"Content-Disposition": f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"},
        )


def _message_fields(data: JsonObject) -> JsonObject:
    allowed = ("text", "sticker", "photo", "voice", "document", "contact", "caption", "reply_to_message_id")
    return {key: data[key] for key in allowed if key in data}

