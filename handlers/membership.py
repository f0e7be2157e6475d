"""The user blocking or restarting the bot (``my_chat_member`` updates in the private chat)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from services.reachability import ReachabilityService


def get_router() -> Router:
    router = Router(name="membership")

    @router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
    async def blocked(event: ChatMemberUpdated, reachability: ReachabilityService) -> None:
        # Nothing can be sent back: the user has just blocked the bot.
        await reachability.blocked(event.from_user.id, event.chat.id)

    @router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    async def restarted(event: ChatMemberUpdated, reachability: ReachabilityService) -> None:
        await reachability.unblocked(event.from_user.id)

    return router
