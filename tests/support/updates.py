"""Telegram updates as a doctor's phone would send them, for feeding the dispatcher directly."""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiogram.types import CallbackQuery, Chat, ChatMemberUpdated, Message, MessageEntity, Update, User

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user(user_id: int = 1001, first_name: str = "Анна", language_code: str | None = "ru") -> User:
    return User(id=user_id, is_bot=False, first_name=first_name, last_name="Петрова", language_code=language_code)


def private_chat(user_id: int) -> Chat:
    return Chat(id=user_id, type="private", first_name="Анна")


def message(
    text: str | None = None,
    *,
    user_id: int = 1001,
    first_name: str = "Анна",
    update_id: int | None = None,
    chat: Chat | None = None,
    **content: Any,
) -> Update:
    entities = None
    if text is not None and text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        entities = [MessageEntity(type="bot_command", offset=0, length=len(command))]
    msg = Message(
        message_id=next(_message_ids),
        date=int(time.time()),
        chat=chat or private_chat(user_id),
        from_user=user(user_id, first_name),
        text=text,
        entities=entities,
        **content,
    )
    return Update(update_id=update_id if update_id is not None else next(_update_ids), message=msg)


def callback(
    data: str,
    *,
    user_id: int = 1001,
    message_id: int = 1,
    update_id: int | None = None,
    message_text: str = "…",
) -> Update:
    bot_message = Message(
        message_id=message_id,
        date=int(time.time()),
        chat=private_chat(user_id),
        from_user=User(id=42, is_bot=True, first_name="Кабинет врача"),
        text=message_text,
    )
    query = CallbackQuery(
        id=str(next(_update_ids) + 10_000),
        from_user=user(user_id),
        chat_instance="ci-" + str(user_id),
        message=bot_message,
        data=data,
    )
    return Update(update_id=update_id if update_id is not None else next(_update_ids), callback_query=query)


def my_chat_member(user_id: int, *, blocked: bool, update_id: int | None = None) -> Update:
    """What Telegram sends when the user blocks (``kicked``) or restarts (``member``) the bot."""
    bot_user = User(id=42, is_bot=True, first_name="Кабинет врача")
    old, new = ("member", "kicked") if blocked else ("kicked", "member")

    def member(status: str) -> dict[str, Any]:
        return {"status": status, "user": bot_user, **({"until_date": 0} if status == "kicked" else {})}

    event = ChatMemberUpdated.model_validate(
        {
            "chat": private_chat(user_id),
            "from": user(user_id),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
    )
    return Update(update_id=update_id if update_id is not None else next(_update_ids), my_chat_member=event)
