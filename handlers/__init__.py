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
from handlers.filters import magic


def get_routers() -> list[Router]:
    """The routers in the order they must see an update: errors, cancel, features, fallback."""
    private = Router(name="private")
    # The cabinet works in private chats only: group chats must never see a doctor's data.
    private.message.filter(magic(F.chat.type == "private"))
    private.callback_query.filter(magic(F.message.chat.type == "private"))
    private.my_chat_member.filter(magic(F.chat.type == "private"))
    private.include_routers(
        cancel.get_router(),
        membership.get_router(),
        auth.get_router(),
        start.get_router(),
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
        schedule.get_router(),
        shifts.get_router(),
        admin_requests.get_router(),
        templates.get_router(),
        fallback.get_router(),
    )
    return [errors.get_router(), private]
