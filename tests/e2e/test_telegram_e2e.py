"""A doctor talking to the running bot through the Telegram emulator, in both delivery modes."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.web import WEBHOOK_PATH
from emulators.telegram.server import TelegramEmulator
from tests.e2e.conftest import TOKEN, e2e_settings, running_bot

DOCTOR = 700_001


def button_texts(message) -> list[str]:  # type: ignore[no-untyped-def]
    markup = message.reply_markup or {}
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else markup.inline_keyboard
    return [b["text"] if isinstance(b, dict) else b.text for row in rows for b in row]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_start_menu_settings_and_language_over_http(
    emulator: TelegramEmulator, e2e_database_url: str, mode: str
) -> None:
    settings = e2e_settings(emulator, e2e_database_url)
    if mode == "webhook":
        settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{settings.web_port}"})
    async with running_bot(settings, mode):
        emulator.create_user(DOCTOR, "Анна", "Петрова", language_code="ru")
        emulator.user_sends(DOCTOR, "/start")
        greeting = await emulator.wait_for_message(DOCTOR, lambda m: "Здравствуйте" in m.text, timeout=10)
        assert greeting.text.startswith("Здравствуйте, Анна!")
        assert button_texts(greeting) == ["📅 Расписание", "🔎 Пациенты", "💊 Рецепт", "📨 Направление", "📄 Документ", "⚙️ Настройки", "❓ Справка"]

        emulator.press_button(DOCTOR, greeting.message_id, text="⚙️ Настройки")
        settings_screen = await emulator.wait_for_message(DOCTOR, lambda m: "Настройки" in m.text, timeout=10)
        assert settings_screen.message_id == greeting.message_id  # edited in place
        assert "Язык интерфейса: 🇷🇺 Русский" in settings_screen.text

        emulator.press_button(DOCTOR, greeting.message_id, text="🇬🇧 English")
        english = await emulator.wait_for_message(DOCTOR, lambda m: "Interface language" in m.text, timeout=10)
        assert "✓ 🇬🇧 English" in button_texts(english)
        await emulator.wait_for_calls("answerCallbackQuery", count=2, timeout=5)
        answered = [q for q in emulator.callback_queries() if q.answer is not None]
        assert len(answered) == 2  # every press answered: no hanging spinner
        await emulator.wait_for_calls("setMyCommands", count=4, timeout=5)
        chat_menu = emulator.commands_for(DOCTOR)
        assert chat_menu[0]["description"] == "Main menu"

        emulator.user_sends(DOCTOR, "<b>привет</b> & пока")
        reply = await emulator.wait_for_message(DOCTOR, timeout=10)
        assert reply.text == "I didn't understand that. Choose an action in the menu or send /help."

    if mode == "webhook":
        deliveries = emulator.webhook_deliveries()
        assert deliveries and all(d.ok for d in deliveries)


async def test_command_menu_is_registered_in_both_languages(
    emulator: TelegramEmulator, e2e_database_url: str
) -> None:
    async with running_bot(e2e_settings(emulator, e2e_database_url), "polling"):
        emulator.create_user(DOCTOR + 1, "Ivan", language_code="en")
        emulator.create_user(DOCTOR + 2, "Иван", language_code="ru")
        emulator.create_user(DOCTOR + 3, "Jan", language_code="pl")
        assert [c["command"] for c in emulator.commands_for(DOCTOR + 1)] == [
            "start", "login", "today", "schedule", "patients", "prescription", "queue", "referral", "document",
            "my_documents", "profile", "shifts", "calendar", "settings", "help", "cancel", "logout",
        ]
        assert emulator.commands_for(DOCTOR + 1)[0]["description"] == "Main menu"
        assert emulator.commands_for(DOCTOR + 2)[0]["description"] == "Главное меню"
        assert emulator.commands_for(DOCTOR + 3)[0]["description"] == "Главное меню"  # default: Russian


async def test_webhook_rejects_calls_without_the_secret_and_handles_a_repeat_once(
    emulator: TelegramEmulator, e2e_database_url: str
) -> None:
    settings = e2e_settings(emulator, e2e_database_url)
    base = f"http://127.0.0.1:{settings.web_port}"
    settings = settings.model_copy(update={"public_url": base})
    async with running_bot(settings, "webhook") as runtime, aiohttp.ClientSession() as http:
        update = {
            "update_id": 555_000_001,
            "message": {
                "message_id": 1,
                "date": 1_764_000_000,
                "chat": {"id": DOCTOR, "type": "private", "first_name": "Анна"},
                "from": {"id": DOCTOR, "is_bot": False, "first_name": "Анна"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        emulator.create_user(DOCTOR, "Анна")
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(base + WEBHOOK_PATH, data=json.dumps(update), headers=headers) as response:
                assert response.status == 401
        assert emulator.bot_messages(DOCTOR) == []

        good = {"X-Telegram-Bot-Api-Secret-Token": runtime.webhook_secret, "Content-Type": "application/json"}
        for _ in range(2):
            async with http.post(base + WEBHOOK_PATH, data=json.dumps(update), headers=good) as response:
                assert response.status == 200
        await emulator.wait_for_message(DOCTOR, lambda m: "Справка" in m.text, timeout=10)
        await emulator.wait_for_calls("sendMessage", count=1)
        assert len([m for m in emulator.bot_messages(DOCTOR) if "Справка" in m.text]) == 1

        async with http.get(base + "/healthz") as response:
            assert response.status == 200
            assert (await response.json()) == {"status": "ok", "database": "ok"}


async def test_the_webhook_is_registered_with_a_secret_token(emulator: TelegramEmulator, e2e_database_url: str) -> None:
    settings = e2e_settings(emulator, e2e_database_url)
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{settings.web_port}"})
    async with running_bot(settings, "webhook"):
        [call] = [c for c in emulator.call_log("setWebhook")]
        assert call.params["url"].endswith(WEBHOOK_PATH)
        assert len(call.params["secret_token"]) >= 32
        assert TOKEN.split(":")[1] not in call.params["secret_token"]


async def test_polling_does_not_spin_when_idle(emulator: TelegramEmulator, e2e_database_url: str) -> None:
    import asyncio

    async with running_bot(e2e_settings(emulator, e2e_database_url), "polling"):
        before = len(emulator.call_log("getUpdates"))
        await asyncio.sleep(1.5)
        assert len(emulator.call_log("getUpdates")) - before <= 3
