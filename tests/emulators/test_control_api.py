"""The control API over HTTP: what out-of-process tests and the chat page use."""

from __future__ import annotations

import asyncio
import base64

from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from emulators.telegram import TelegramEmulator
from tests.emulators.conftest import USER_ID, ControlCall


async def test_users_messages_and_buttons(bot: Bot, emu: TelegramEmulator, control: ControlCall) -> None:
    status, body = await control("POST", "/users", {"id": 7, "first_name": "Гость", "language_code": "ru"})
    assert status == 200 and body["result"]["first_name"] == "Гость"
    _, body = await control("GET", "/users/7")
    assert body["result"]["blocked"] is False

    status, body = await control("POST", "/chats/7/messages", {"text": "/start"})
    assert status == 201
    assert body["result"]["message"]["entities"][0]["type"] == "bot_command"
    update_id = body["result"]["update_id"]
    updates = await bot.get_updates()
    assert updates[-1].update_id == update_id

    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]])
    sent = await bot.send_message(7, "<b>Жми</b>", reply_markup=markup)
    status, body = await control("POST", "/chats/7/press", {"message_id": sent.message_id, "callback_data": "nope"})
    assert status == 409 and "forge" in body["error"]
    status, body = await control(
        "POST", "/chats/7/press", {"message_id": sent.message_id, "callback_data": "nope", "forge": True}
    )
    assert status == 200 and body["result"]["forged"] is True
    status, body = await control("POST", "/chats/7/press", {"message_id": sent.message_id, "text": "OK"})
    assert status == 200
    query_id = body["result"]["callback_query_id"]
    await bot.answer_callback_query(query_id, "Принято")

    status, body = await control("GET", "/chats/7/messages")
    result = body["result"]
    bot_message = next(m for m in result["messages"] if m["from_bot"])
    assert bot_message["html"] == "<b>Жми</b>"
    assert bot_message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"
    assert [a["answer"]["text"] for a in result["callback_answers"]] == ["Принято"]

    status, body = await control("GET", "/callbacks?chat_id=7")
    assert len(body["result"]) == 2

    status, body = await control("POST", "/chats/7/press", {"message_id": 999, "callback_data": "ok"})
    assert status == 404


async def test_long_poll_for_chat_changes(bot: Bot, emu: TelegramEmulator, control: ControlCall) -> None:
    _, body = await control("GET", f"/chats/{USER_ID}/messages")
    version = body["result"]["version"]
    waiting = asyncio.create_task(control("GET", f"/chats/{USER_ID}/messages?after={version}&wait=5"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    sent = await bot.send_message(USER_ID, "news")
    status, body = await asyncio.wait_for(waiting, 2)
    assert status == 200
    assert [m["text"] for m in body["result"]["messages"]] == ["news"]
    version = body["result"]["version"]

    await bot.delete_message(USER_ID, sent.message_id)
    _, body = await control("GET", f"/chats/{USER_ID}/messages?after={version}")
    assert [(m["message_id"], m["deleted"]) for m in body["result"]["messages"]] == [(sent.message_id, True)]


async def test_block_unblock_and_sending_while_blocked(bot: Bot, emu: TelegramEmulator, control: ControlCall) -> None:
    status, _ = await control("POST", f"/users/{USER_ID}/block", {})
    assert status == 200
    status, _ = await control("POST", f"/chats/{USER_ID}/messages", {"text": "hi"})
    assert status == 409
    await control("POST", f"/users/{USER_ID}/unblock", {})
    status, _ = await control("POST", f"/chats/{USER_ID}/messages", {"text": "hi"})
    assert status == 201


async def test_media_from_user(bot: Bot, emu: TelegramEmulator, control: ControlCall) -> None:
    data = base64.b64encode(b"scan").decode()
    for payload in (
        {"sticker": {"emoji": "🙂"}},
        {"photo": {"data_base64": data}, "caption": "фото"},
        {"voice": {"duration": 2}},
        {"document": {"file_name": "a.pdf", "data_base64": data}},
        {"contact": {"phone_number": "+1"}},
    ):
        status, body = await control("POST", f"/chats/{USER_ID}/messages", payload)
        assert status == 201, body
    status, body = await control("POST", f"/chats/{USER_ID}/messages", {"text": "a", "sticker": "x"})
    assert status == 400
    kinds = [u.message.content_type for u in await bot.get_updates() if u.message]
    assert kinds == ["sticker", "photo", "voice", "document", "contact"]
    document = emu.messages(USER_ID)[3].content["document"]
    async with emu_http_get(emu, f"/_emulator/files/{document['file_id']}") as (status, raw, headers):
        assert status == 200 and raw == b"scan"
        assert 'filename="a.pdf"' in headers["Content-Disposition"]


class emu_http_get:  # a tiny async context manager for raw downloads
    def __init__(self, emu: TelegramEmulator, path: str) -> None:
        import aiohttp

        self.url = emu.base_url + path
        self.session = aiohttp.ClientSession()

    async def __aenter__(self) -> tuple[int, bytes, dict[str, str]]:
        async with self.session.get(self.url) as response:
            return response.status, await response.read(), dict(response.headers)

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


async def test_call_log_limits_faults_and_reset(bot: Bot, emu: TelegramEmulator, control: ControlCall) -> None:
    await bot.get_me()
    await bot.send_message(USER_ID, "logged")
    _, body = await control("GET", "/calls?method=sendmessage")
    calls = body["result"]
    assert [c["method"] for c in calls] == ["sendMessage"]
    assert calls[0]["params"]["text"] == "logged" and calls[0]["status"] == 200

    status, body = await control("PUT", "/limits", {"per_chat_per_second": 1})
    assert body["result"]["per_chat_per_second"] == 1
    assert emu.limits.per_chat_per_second == 1
    await control("PUT", "/limits", {})

    status, body = await control("POST", "/faults", {"method": "getMe", "kind": "retry_after", "retry_after": 3})
    assert status == 201 and body["result"]["getme"][0]["retry_after"] == 3
    status, body = await control("POST", "/faults", {"method": "getMe", "status": 502})
    assert body["result"]["getme"][1]["description"] == "Bad Gateway"
    _, body = await control("GET", "/faults")
    assert len(body["result"]["queued"]["getme"]) == 2
    await control("DELETE", "/faults")
    await bot.get_me()

    status, _ = await control("POST", "/faults/random", {"rate": 0.5, "seed": 1})
    assert status == 200
    await control("POST", "/reset")
    assert emu.call_log() == [] and emu.store.users == {} and emu.faults.random is None
    _, body = await control("GET", "")
    assert body["result"]["default_bot"]["username"] == "medcab_test_bot"


async def test_create_second_bot(emu: TelegramEmulator, control: ControlCall) -> None:
    new_bot = {"token": "987:other", "username": "other_bot", "first_name": "Other"}
    status, body = await control("POST", "/bots", new_bot)
    assert status == 201
    from tests.emulators.conftest import make_bot

    other = make_bot(emu, "987:other")
    try:
        assert (await other.get_me()).username == "other_bot"
        await control("POST", "/chats/1001/messages", {"text": "to other", "bot": "other_bot"})
        assert [u.message.text for u in await other.get_updates() if u.message] == ["to other"]
        assert emu.pending_updates() == []
    finally:
        await other.session.close()
    status, body = await control("POST", "/bots", {"token": "bad token"})
    assert status == 400 and "token" in body["error"]


async def test_user_edit_and_time_advance(bot: Bot, emu: TelegramEmulator, control: ControlCall) -> None:
    _, body = await control("POST", f"/chats/{USER_ID}/messages", {"text": "typo"})
    message_id = body["result"]["message"]["message_id"]
    status, body = await control("POST", f"/chats/{USER_ID}/messages/{message_id}/edit", {"text": "fixed /help"})
    assert status == 200 and body["result"]["message"]["edit_date"] is not None
    updates = await bot.get_updates()
    edited = updates[-1].edited_message
    assert edited is not None and edited.text == "fixed /help" and edited.entities
    before = emu.clock.time()
    status, body = await control("POST", "/time/advance", {"seconds": 3600})
    assert status == 200 and body["result"]["time"] >= before + 3600
