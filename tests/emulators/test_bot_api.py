"""Bot API conformance, checked with aiogram's real client and its pydantic models."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    WebAppInfo,
)

from emulators.telegram import TelegramEmulator
from tests.emulators.conftest import USER_ID, make_bot

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000030806000000b9eade810000000d49444154789c63f8ffff3f"
    "0300080001ff0a2dbb1b0000000049454e44ae426082"
)


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in data]])


async def test_get_me_returns_full_bot_user(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.username == "medcab_test_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False


async def test_unknown_token_is_unauthorized(emu: TelegramEmulator) -> None:
    stranger = make_bot(emu, token="42:unknown")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_unknown_method_is_not_found(bot: Bot) -> None:
    class Frobnicate(TelegramMethod[bool]):
        __returning__ = bool
        __api_method__ = "frobnicate"

    with pytest.raises(TelegramNotFound, match="Not Found"):
        await bot(Frobnicate())


async def test_send_message_parses_html_into_entities(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_message(
        USER_ID,
        "<b>Приём</b> в <i>10:00</i> &lt;каб. 5&gt; 😀 <a href='https://example.org'>карта</a>\n"
        "<pre><code class=\"language-python\">print(1)</code></pre>",
        protect_content=True,
        disable_notification=True,
    )
    assert sent.text == "Приём в 10:00 <каб. 5> 😀 карта\nprint(1)"
    types = [(e.type, e.offset, e.length) for e in sent.entities or []]
    assert ("bold", 0, 5) in types
    assert ("italic", 8, 5) in types
    # Offsets count UTF-16 units: the emoji takes two.
    assert ("text_link", 26, 5) in types
    pre = next(e for e in sent.entities or [] if e.type == "pre")
    assert pre.language == "python"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.chat.type == "private" and sent.chat.first_name == "Anna"
    assert sent.has_protected_content is True
    stored = emu.last_message(USER_ID)
    assert stored is not None
    assert stored.protect_content and stored.disable_notification
    assert stored.html.startswith("<b>Приём</b> в <i>10:00</i> &lt;каб. 5&gt;")


async def test_message_ids_increase_per_chat(bot: Bot, emu: TelegramEmulator) -> None:
    emu.create_user(2002, "Boris")
    first = await bot.send_message(USER_ID, "one")
    second = await bot.send_message(USER_ID, "two")
    other = await bot.send_message(2002, "one")
    assert second.message_id == first.message_id + 1
    assert other.message_id == 1


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("<b>unclosed", "can't parse entities: Can't find end tag corresponding to start tag \"b\""),
        ("a < b", "can't parse entities: Unsupported start tag \"\" at byte offset 2"),
        ("<script>x</script>", "Unsupported start tag \"script\""),
        ("<b>x</i>", "Unmatched end tag"),
        ("   ", "message text is empty"),
        ("<b></b>", "message text is empty"),
        ("x" * 4097, "message is too long"),
    ],
)
async def test_send_message_text_errors(bot: Bot, text: str, description: str) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: ") as caught:
        await bot.send_message(USER_ID, text)
    assert description in caught.value.message


async def test_text_limit_counts_after_entity_parsing(bot: Bot) -> None:
    sent = await bot.send_message(USER_ID, "<b>" + "x" * 4096 + "</b>")
    assert len(sent.text or "") == 4096


async def test_callback_data_over_64_bytes_is_rejected(bot: Bot) -> None:
    too_long = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="я" * 33)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER_ID, "hi", reply_markup=too_long)
    ok = await bot.send_message(USER_ID, "hi", reply_markup=keyboard("a" * 64))
    assert ok.reply_markup is not None


async def test_url_buttons_and_reply_keyboards(bot: Bot, emu: TelegramEmulator) -> None:
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Site", url="https://example.org")]])
    sent = await bot.send_message(USER_ID, "link", reply_markup=markup)
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].url == "https://example.org"
    bad = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Bad", url="not a url")]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_URL_INVALID"):
        await bot.send_message(USER_ID, "link", reply_markup=bad)

    reply = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Да"), KeyboardButton(text="Нет")]], resize_keyboard=True
    )
    sent = await bot.send_message(USER_ID, "?", reply_markup=reply)
    assert sent.reply_markup is None  # a Message only ever shows inline keyboards
    assert emu.reply_keyboard(USER_ID) == {
        "keyboard": [[{"text": "Да"}, {"text": "Нет"}]],
        "resize_keyboard": True,
    }
    await bot.send_message(USER_ID, "ok", reply_markup=ReplyKeyboardRemove())
    assert emu.reply_keyboard(USER_ID) is None


async def test_edit_semantics(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_message(USER_ID, "Выберите", reply_markup=keyboard("a", "b"))
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new message content"):
        await bot.edit_message_text(
            "Выберите", chat_id=USER_ID, message_id=sent.message_id, reply_markup=keyboard("a", "b")
        )

    edited = await bot.edit_message_text("<b>Готово</b>", chat_id=USER_ID, message_id=sent.message_id)
    assert edited.text == "Готово"
    assert edited.reply_markup is None  # an edit without reply_markup removes the inline keyboard
    assert edited.edit_date is not None

    with_keyboard = await bot.edit_message_reply_markup(
        chat_id=USER_ID, message_id=sent.message_id, reply_markup=keyboard("c")
    )
    assert with_keyboard.reply_markup is not None
    assert with_keyboard.text == "Готово"
    without = await bot.edit_message_reply_markup(chat_id=USER_ID, message_id=sent.message_id)
    assert without.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=USER_ID, message_id=sent.message_id)

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=999)
    user_message = emu.user_sends(USER_ID, "hello")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=user_message.message_id)
    stored = emu.messages(USER_ID)[0]
    assert stored.edit_date is not None and stored.reply_markup is None


async def test_delete_message(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_message(USER_ID, "secret")
    assert await bot.delete_message(USER_ID, sent.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER_ID, sent.message_id)
    assert emu.messages(USER_ID) == []
    assert emu.messages(USER_ID, include_deleted=True)[0].deleted
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=sent.message_id)


async def test_chat_errors(bot: Bot, emu: TelegramEmulator) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(555, "hi")
    emu.block(USER_ID)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(USER_ID, "hi")
    emu.unblock(USER_ID)
    await bot.send_message(USER_ID, "welcome back")
    emu.create_user(3003, "Vera", started=False)
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation with a user"):
        await bot.send_message(3003, "hi")
    emu.user_sends(3003, "/start")
    await bot.send_message(3003, "hi")


async def test_document_upload_is_recorded_and_downloadable(bot: Bot, emu: TelegramEmulator) -> None:
    data = "Выписка пациента\n".encode()
    sent = await bot.send_document(
        USER_ID, BufferedInputFile(data, filename="выписка.txt"), caption="<i>Документ</i>", protect_content=True
    )
    document = sent.document
    assert document is not None
    assert document.file_name == "выписка.txt"
    assert document.file_size == len(data)
    assert document.mime_type == "text/plain"
    assert sent.caption == "Документ" and sent.caption_entities and sent.caption_entities[0].type == "italic"

    call = emu.call_log("sendDocument")[-1]
    assert call.ok and call.params["caption"] == "<i>Документ</i>"
    assert [(f.filename, f.data) for f in call.files] == [("выписка.txt", data)]

    file = await bot.get_file(document.file_id)
    assert file.file_path and file.file_size == len(data)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == data

    again = await bot.send_document(USER_ID, document.file_id)
    assert again.document is not None and again.document.file_unique_id == document.file_unique_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(USER_ID, "no-such-file")


async def test_send_photo_reports_dimensions(bot: Bot) -> None:
    sent = await bot.send_photo(USER_ID, BufferedInputFile(PNG_1x1, filename="p.png"), caption="x")
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (2, 3)


async def test_chat_action_and_misc_methods(bot: Bot) -> None:
    assert await bot.send_chat_action(USER_ID, "typing") is True
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(USER_ID, "dancing")
    assert await bot.log_out() is True
    assert await bot.close() is True
    chat = await bot.get_chat(USER_ID)
    assert chat.first_name == "Anna"


async def test_commands_by_scope_and_language(bot: Bot, emu: TelegramEmulator) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="start", description="Начать")], language_code="ru")
    await bot.set_my_commands(
        [BotCommand(command="admin", description="Admin")], scope=BotCommandScopeChat(chat_id=USER_ID)
    )
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Начать"]
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == []
    # The "/" menu resolves scope first, then language.
    assert emu.commands_for(USER_ID) == [{"command": "admin", "description": "Admin"}]
    assert emu.commands_for(2020) == [{"command": "start", "description": "Start"}]
    await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=USER_ID))
    assert emu.commands_for(USER_ID) == [{"command": "start", "description": "Начать"}]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_menu_button(bot: Bot) -> None:
    assert (await bot.get_chat_menu_button()).type == "commands"
    button = MenuButtonWebApp(text="Open", web_app=WebAppInfo(url="https://example.org/app"))
    assert await bot.set_chat_menu_button(chat_id=USER_ID, menu_button=button) is True
    got = await bot.get_chat_menu_button(chat_id=USER_ID)
    assert got.type == "web_app"
    assert (await bot.get_chat_menu_button()).type == "commands"


async def test_callback_answer_errors(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_message(USER_ID, "?", reply_markup=keyboard("yes"))
    query = emu.press_button(USER_ID, sent.message_id, "yes")
    assert await bot.answer_callback_query(query.id, text="Принято", show_alert=True) is True
    assert query.answer is not None and query.answer["text"] == "Принято" and query.answer["show_alert"]
    old = "query is too old and response timeout expired or query ID is invalid"
    with pytest.raises(TelegramBadRequest, match=old):
        await bot.answer_callback_query(query.id)  # already answered
    with pytest.raises(TelegramBadRequest, match=old):
        await bot.answer_callback_query("123")
    late = emu.press_button(USER_ID, sent.message_id, "yes")
    emu.advance_time(16 * 60)
    with pytest.raises(TelegramBadRequest, match=old):
        await bot.answer_callback_query(late.id)


async def test_copy_and_forward_respect_protect_content(bot: Bot, emu: TelegramEmulator) -> None:
    plain = await bot.send_message(USER_ID, "plain")
    copied = await bot.copy_message(USER_ID, USER_ID, plain.message_id)
    assert copied.message_id == plain.message_id + 1
    forwarded = await bot.forward_message(USER_ID, USER_ID, plain.message_id)
    assert forwarded.forward_origin is not None
    protected = await bot.send_message(USER_ID, "secret", protect_content=True)
    with pytest.raises(TelegramBadRequest, match="protected content"):
        await bot.forward_message(USER_ID, USER_ID, protected.message_id)


@pytest.mark.parametrize("encoding", ["json", "form", "multipart", "query"])
async def test_request_encodings(emu: TelegramEmulator, http: aiohttp.ClientSession, encoding: str) -> None:
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    url = f"{emu.base_url}/bot{emu.token}/SENDMESSAGE"  # method names are case-insensitive
    fields = {"chat_id": str(USER_ID), "text": "hi <b>there</b>", "parse_mode": "HTML", "reply_markup": markup}
    if encoding == "json":
        keyboard_json = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        request = http.post(url, json={**fields, "chat_id": USER_ID, "reply_markup": keyboard_json})
    elif encoding == "form":
        request = http.post(url, data=fields)
    elif encoding == "multipart":
        form = aiohttp.FormData(fields)
        form.add_field("unused", b"x", filename="x.bin")
        request = http.post(url, data=form)
    else:
        request = http.get(url, params=fields)
    async with request as response:
        body = await response.json()
    assert response.status == 200, body
    assert body["result"]["text"] == "hi there"
    assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    record = emu.call_log("sendMessage")[-1]
    assert record.params["reply_markup"] == {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}


async def test_telegram_shaped_errors_over_raw_http(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{emu.base_url}/bot{emu.token}/sendMessage", json={"chat_id": 9, "text": "x"}) as r:
        assert r.status == 400
        assert await r.json() == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    async with http.get(f"{emu.base_url}/bot1:nope/getMe") as r:
        assert (r.status, await r.json()) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    async with http.get(f"{emu.base_url}/bot{emu.token}/noSuchMethod") as r:
        assert (r.status, await r.json()) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
