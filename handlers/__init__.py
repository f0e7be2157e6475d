"""Routers of every feature, built fresh by a factory (a Router can have one parent only)."""

from __future__ import annotations

from aiogram import F, Router

from handlers import (
    admin,
    admin_requests,
    announcements,
    approvals,
    auth,
    cancel,
    clinical_documents,
    document_list,
    errors,
    fallback,
    help,
    membership,
    notifications,
    patients,
    prescriptions,
    referrals,
    schedule,
    settings,
    shifts,
    start,
    templates,
)
from handlers.filters import gate_callbacks, magic


def get_routers() -> list[Router]:
    """The routers in the order they must see an update: cancel, features, fallback; errors.

    The errors router only handles errors (which aiogram propagates separately), so it comes
    last, where updates do not pass through it on their way to the features."""
    private = Router(name="private")
    # The cabinet works in private chats only: group chats must never see a doctor's data.
    private.message.filter(magic(F.chat.type == "private"))
    private.callback_query.filter(magic(F.message.chat.type == "private"))
    private.my_chat_member.filter(magic(F.chat.type == "private"))
    features = [
        cancel.get_router(),
        auth.get_router(),
        start.get_router(),
        # The day view is what doctors press most: its router comes before the other features'
        # (its messages are commands and its own states only, so no one else's are taken; «Отмена»,
        # the PIN entry and «меню» still come first).
        schedule.get_router(),
        membership.get_router(),  # chat-member updates only: its place costs the others nothing
        help.get_router(),
        settings.get_router(),
        admin.get_router(),
        announcements.get_router(),
        notifications.get_router(),
        patients.get_router(),
        prescriptions.get_router(),
        approvals.get_router(),
        referrals.get_router(),
        clinical_documents.get_router(),
        document_list.get_router(),
        shifts.get_router(),
        admin_requests.get_router(),
        templates.get_router(),
        fallback.get_router(),
    ]
    for router in features:
        gate_callbacks(router)
    private.include_routers(*features)
    return [private, errors.get_router()]
