"""How a clinic system's answer about a signed document reads in the chat (a notification kind)."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _

from handlers.notifications import register_kind
from services.clinic_exchange import STATUS_KIND


def _kind_name(kind: str) -> str:
    return {"prescription": _("Prescription"), "referral": _("Referral")}.get(kind, _("Document"))


def render_status(payload: dict[str, Any], locale: str) -> str:
    what = _kind_name(str(payload.get("kind")))
    number = int(payload.get("document_id", 0))
    if payload.get("status") == "accepted":
        return _("✅ {what} № {number} is accepted by the clinic system.").format(what=what, number=number)
    return _("❌ {what} № {number} is rejected by the clinic system: {reason}. Make a corrected version.").format(
        what=what, number=number, reason=escape(str(payload.get("reason") or "—"))
    )


def register() -> None:
    register_kind(STATUS_KIND, render_status)
