"""How a clinic system's answer about a signed document reads in the chat (a notification kind)."""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton
from aiogram.utils.i18n import gettext as _

from handlers.notifications import register_kind
from services.clinic_exchange import STATUS_KIND


class MyDocumentsCallback(CallbackData, prefix="mydocs"):
    """Opens «Мои документы» (e.g. from a rejection notice, which carries no reason itself)."""


def open_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("📄 My documents"), callback_data=MyDocumentsCallback().pack())


def kind_name(kind: str) -> str:
    return {"prescription": _("Prescription"), "referral": _("Referral")}.get(kind, _("Document"))


def render_status(payload: dict[str, Any], locale: str) -> str:
    what = kind_name(str(payload.get("kind")))
    number = int(payload.get("document_id", 0))
    if payload.get("status") == "accepted":
        return _("✅ {what} № {number} is accepted by the clinic system.").format(what=what, number=number)
    # The reason is not in the payload (notifications are stored in clear): it is shown in
    # «Мои документы», decrypted from the document row.
    return _("❌ {what} № {number} is rejected by the clinic system. The reason is in «My documents»; "
             "make a corrected version from there.").format(what=what, number=number)


def status_keyboard(notification_id: int, payload: dict[str, Any]) -> list[list[InlineKeyboardButton]]:
    if payload.get("status") == "accepted":
        return []
    return [[open_button()]]


def register() -> None:
    register_kind(STATUS_KIND, render_status, status_keyboard)
