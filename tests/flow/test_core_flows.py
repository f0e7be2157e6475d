"""What a doctor sees when talking to the bot: /start, menu, /help, /settings, /cancel, fallbacks."""

from __future__ import annotations

import logging

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SetMyCommands
from aiogram.types import (
    BotCommandScopeChat,
    Chat,
    Contact,
    Document,
    InlineKeyboardMarkup,
    PhotoSize,
    Sticker,
    Voice,
)
from sqlalchemy import event, text

from handlers.callbacks import LanguageCallback, MenuAction, MenuCallback
from services.preferences import Language, PreferencesService
from tests.flow.conftest import Flow, make_flow_dispatcher
from tests.support import updates


def buttons(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None, "expected an inline keyboard"
    return [button.text for row in markup.inline_keyboard for button in row]


async def stored_locale(flow: Flow, user_id: int) -> str | None:
    async with flow.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT locale FROM telegram_accounts WHERE telegram_user_id = :u"), {"u": user_id})
        ).first()
    return row[0] if row else None


async def test_start_greets_in_russian_with_main_menu_and_remembers_the_user(flow: Flow) -> None:
    sent = await flow.feed(updates.message("/start", user_id=1001, first_name="Анна"))
    [reply] = sent.sent(SendMessage)
    assert reply.text.startswith("Здравствуйте, Анна!")
    assert "Кабинет врача" in reply.text
    assert "Госуслуг" in reply.text
    assert buttons(reply.reply_markup) == ["📅 Расписание", "🔎 Пациенты", "💊 Рецепт", "📨 Направление", "📄 Документ", "⚙️ Настройки", "❓ Справка"]
    assert await stored_locale(flow, 1001) == "ru"


async def test_help_lists_commands_in_russian(flow: Flow) -> None:
    sent = await flow.feed(updates.message("/help"))
    text_ = sent.last_text()
    for command in ("/start", "/settings", "/cancel", "/help"):
        assert command in text_
    assert text_.startswith("<b>Справка</b>")
    assert buttons(sent.sent(SendMessage)[-1].reply_markup) == ["« В меню"]


async def test_menu_buttons_open_help_and_settings_in_place(flow: Flow) -> None:
    sent = await flow.feed(updates.callback(MenuCallback(action=MenuAction.HELP).pack(), message_id=55))
    [edit] = sent.sent(EditMessageText)
    assert edit.message_id == 55 and "Справка" in edit.text
    assert sent.sent(AnswerCallbackQuery), "the button's spinner must stop"

    sent = await flow.feed(updates.callback(MenuCallback(action=MenuAction.SETTINGS).pack(), message_id=55))
    [edit] = sent.sent(EditMessageText)
    assert "Язык интерфейса: 🇷🇺 Русский" in edit.text
    assert buttons(edit.reply_markup) == ["✓ 🇷🇺 Русский", "🇬🇧 English", "🔔 Уведомления", "« В меню"]

    sent = await flow.feed(updates.callback(MenuCallback(action=MenuAction.MAIN).pack(), message_id=55))
    [edit] = sent.sent(EditMessageText)
    assert "Главное меню" in edit.text


async def test_switching_to_english_is_remembered_and_changes_the_command_menu(flow: Flow) -> None:
    await flow.feed(updates.message("/start", user_id=2002))
    sent = await flow.feed(updates.callback(LanguageCallback(language=Language.EN).pack(), user_id=2002, message_id=9))
    [edit] = sent.sent(EditMessageText)
    assert "Interface language: 🇬🇧 English" in edit.text
    assert buttons(edit.reply_markup) == ["🇷🇺 Русский", "✓ 🇬🇧 English", "🔔 Notifications", "« Main menu"]
    [toast] = sent.sent(AnswerCallbackQuery)
    assert toast.text == "Language saved."
    [commands] = sent.sent(SetMyCommands)
    assert isinstance(commands.scope, BotCommandScopeChat) and commands.scope.chat_id == 2002
    assert commands.commands[0].description == "Main menu"
    assert await stored_locale(flow, 2002) == "en"

    sent = await flow.feed(updates.message("/help", user_id=2002))
    assert sent.last_text().startswith("<b>Help</b>")
    # Another user is not affected.
    sent = await flow.feed(updates.message("/help", user_id=2003))
    assert sent.last_text().startswith("<b>Справка</b>")

    # Remembered across a restart: a brand-new dispatcher with empty caches reads it back.
    flow.dp = flow.dispatcher()
    sent = await flow.feed(updates.message("/settings", user_id=2002))
    assert "Interface language: 🇬🇧 English" in sent.last_text()


async def test_switching_back_to_russian(flow: Flow) -> None:
    await flow.feed(updates.callback(LanguageCallback(language=Language.EN).pack(), user_id=2004))
    sent = await flow.feed(updates.callback(LanguageCallback(language=Language.RU).pack(), user_id=2004))
    assert sent.sent(AnswerCallbackQuery)[0].text == "Язык сохранён."
    assert await stored_locale(flow, 2004) == "ru"


class Demo(StatesGroup):
    waiting = State()


async def test_cancel_leaves_any_conversation(flow: Flow) -> None:
    sent = await flow.feed(updates.message("/cancel", user_id=3003))
    assert sent.last_text() == "Сейчас нечего отменять."

    key = StorageKey(bot_id=flow.bot.id, chat_id=3003, user_id=3003)
    await flow.storage.set_state(key, Demo.waiting)
    await flow.storage.set_data(key, {"draft": 1})
    sent = await flow.feed(updates.message("/cancel", user_id=3003))
    assert sent.texts() == ["Действие отменено.", "Выберите действие:"]
    assert await flow.storage.get_state(key) is None
    assert await flow.storage.get_data(key) == {}

    await flow.storage.set_state(key, Demo.waiting)
    sent = await flow.feed(updates.message("Отмена", user_id=3003))
    assert sent.texts()[0] == "Действие отменено."
    assert await flow.storage.get_state(key) is None


async def test_unknown_command_is_named_and_escaped(flow: Flow) -> None:
    sent = await flow.feed(updates.message("/frobnicate<b>&x"))
    assert sent.last_text() == "Команда /frobnicate&lt;b&gt;&amp;x мне незнакома. Список команд — /help"


async def test_unknown_text_gets_a_helpful_answer_with_the_menu(flow: Flow) -> None:
    sent = await flow.feed(updates.message("<script>alert(1)</script> & привет"))
    [reply] = sent.sent(SendMessage)
    assert reply.text == "Я не понял сообщение. Выберите действие в меню или отправьте /help."
    assert "<script>" not in reply.text
    assert buttons(reply.reply_markup) == ["📅 Расписание", "🔎 Пациенты", "💊 Рецепт", "📨 Направление", "📄 Документ", "⚙️ Настройки", "❓ Справка"]


async def test_a_4096_character_message_gets_a_short_answer(flow: Flow) -> None:
    sent = await flow.feed(updates.message("я" * 4096))
    assert sent.last_text() == "Я не понял сообщение. Выберите действие в меню или отправьте /help."
    sent = await flow.feed(updates.message("/" + "x" * 4095))
    assert len(sent.last_text()) < 200


@pytest.mark.parametrize(
    "content",
    [
        {"sticker": Sticker(file_id="s", file_unique_id="s", type="regular", width=512, height=512,
                            is_animated=False, is_video=False)},
        {"photo": [PhotoSize(file_id="p", file_unique_id="p", width=90, height=90)]},
        {"voice": Voice(file_id="v", file_unique_id="v", duration=3)},
        {"document": Document(file_id="d", file_unique_id="d", file_name="анализы.pdf")},
        {"contact": Contact(phone_number="+79990000000", first_name="Иван")},
    ],
    ids=["sticker", "photo", "voice", "document", "contact"],
)
async def test_non_text_messages_are_answered(flow: Flow, content: dict[str, object]) -> None:
    sent = await flow.feed(updates.message(None, **content))
    assert sent.last_text() == "Я понимаю только текст и нажатия кнопок. Выберите действие в меню или отправьте /help."


async def test_html_in_the_users_name_is_escaped(flow: Flow) -> None:
    sent = await flow.feed(updates.message("/start", user_id=4004, first_name="<b>Ann</b> & Co"))
    assert sent.last_text().startswith("Здравствуйте, &lt;b&gt;Ann&lt;/b&gt; &amp; Co!")


@pytest.mark.parametrize("data", ["menu:hack", "lang:de", "lang:", "x" * 64, "menu:main:extra", "unknown"])
async def test_forged_or_stale_buttons_change_nothing(flow: Flow, data: str) -> None:
    await flow.feed(updates.message("/start", user_id=5005))
    sent = await flow.feed(updates.callback(data, user_id=5005))
    [alert] = sent.sent(AnswerCallbackQuery)
    assert alert.show_alert is True
    assert alert.text == "Эта кнопка устарела. Откройте меню заново: /start"
    assert not sent.sent(EditMessageText) and not sent.sent(SendMessage)
    assert await stored_locale(flow, 5005) == "ru"


async def test_the_same_update_delivered_twice_is_handled_once(flow: Flow) -> None:
    update = updates.message("/help", update_id=777_001)
    first = len((await flow.feed(update)).sent(SendMessage))
    second = len((await flow.feed(update)).sent(SendMessage))
    assert (first, second) == (1, 0)


async def test_group_chats_are_ignored(flow: Flow) -> None:
    group = Chat(id=-100123, type="supergroup", title="Ординаторская")
    sent = await flow.feed(updates.message("/start", chat=group))
    assert sent.calls == []


async def test_ordinary_messages_write_nothing_to_the_database(flow: Flow) -> None:
    await flow.feed(updates.message("/start", user_id=6006))
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    event.listen(flow.engine.sync_engine, "before_cursor_execute", record)
    try:
        for text_ in ("/help", "привет", "/settings", "/cancel"):
            await flow.feed(updates.message(text_, user_id=6006))
    finally:
        event.remove(flow.engine.sync_engine, "before_cursor_execute", record)
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements


async def test_database_down_during_an_update_gives_an_apology_and_writes_nothing(
    flow: Flow, tmp_path, monkeypatch
) -> None:
    from storage.db import create_engine, make_session_maker

    # A directory where the database file should be: every connection attempt fails.
    (tmp_path / "x.db").mkdir()
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    dp = make_flow_dispatcher(make_session_maker(broken), flow.storage)
    flow.session.clear()
    await dp.feed_update(flow.bot, updates.message("/start", user_id=7007))
    assert flow.session.last_text() == "Сервис временно недоступен. Попробуйте ещё раз через несколько минут."
    await broken.dispose()
    assert await stored_locale(flow, 7007) is None


async def test_unexpected_error_gives_an_apology_with_an_error_id_and_no_details(
    flow: Flow, monkeypatch, caplog
) -> None:
    async def boom(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Петрова Анна Викторовна, СНИЛС 112-233-445 95")

    monkeypatch.setattr(PreferencesService, "remember_user", boom)
    with caplog.at_level(logging.ERROR):
        sent = await flow.feed(updates.message("/start", user_id=8008))
    reply = sent.last_text()
    assert reply.startswith("Извините, что-то пошло не так. Мы уже разбираемся. Код ошибки: ")
    error_id = reply.rsplit(" ", 1)[-1]
    assert len(error_id) == 8
    assert "Петрова" not in reply and "Traceback" not in reply
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None  # the traceback goes to the log, under the same id


async def test_every_button_press_is_answered(flow: Flow) -> None:
    for data in (
        MenuCallback(action=MenuAction.MAIN).pack(),
        MenuCallback(action=MenuAction.HELP).pack(),
        MenuCallback(action=MenuAction.SETTINGS).pack(),
        LanguageCallback(language=Language.RU).pack(),
        "garbage",
    ):
        sent = await flow.feed(updates.callback(data))
        assert len(sent.sent(AnswerCallbackQuery)) == 1, data
