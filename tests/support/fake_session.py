"""A Bot API session that answers in-process and records every call, for flow tests and benches.

It answers like Telegram would (a Message for send/edit calls, True for the rest), so the
handlers run their real code paths without a network.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncGenerator
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, InlineKeyboardMarkup, Message, User

BOT_USER = User(id=42, is_bot=True, first_name="Кабинет врача", username="medcab_test_bot")


class FakeSession(BaseSession):
    def __init__(self, record: bool = True) -> None:
        super().__init__()
        self.record = record
        self.calls: list[TelegramMethod[Any]] = []
        self._ids = itertools.count(1000)
        self.fail_with: Exception | None = None

    async def close(self) -> None:
        return None

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30, chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover - flows never download
        yield b""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if self.record:
            self.calls.append(method)
        if self.fail_with is not None:
            raise self.fail_with
        if isinstance(method, SendMessage | SendDocument | EditMessageText | EditMessageReplyMarkup):
            chat_id = int(method.chat_id) if method.chat_id is not None else 0
            message_id = getattr(method, "message_id", None) or next(self._ids)
            text = getattr(method, "text", None)
            result: Any = Message(
                message_id=message_id,
                date=int(time.time()),
                chat=Chat(id=chat_id, type="private"),
                from_user=BOT_USER,
                text=text,
                reply_markup=markup if isinstance(markup := getattr(method, "reply_markup", None), InlineKeyboardMarkup)
                else None,
            )
        elif method.__api_method__ == "getMe":
            result = BOT_USER
        else:
            result = True
        return result  # type: ignore[no-any-return]

    # What the user would see -------------------------------------------------------------

    def sent(self, kind: type[TelegramMethod[Any]] = SendMessage) -> list[Any]:
        return [call for call in self.calls if isinstance(call, kind)]

    def texts(self) -> list[str]:
        return [call.text for call in self.calls if isinstance(call, SendMessage | EditMessageText)]

    def last_text(self) -> str:
        texts = self.texts()
        assert texts, f"the bot said nothing; calls: {[c.__api_method__ for c in self.calls]}"
        return texts[-1]

    def deleted(self) -> list[DeleteMessage]:
        return self.sent(DeleteMessage)

    def clear(self) -> None:
        self.calls.clear()


def make_fake_bot(session: FakeSession | None = None) -> Bot:
    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode

    return Bot(
        "42:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz",
        session=session or FakeSession(),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
