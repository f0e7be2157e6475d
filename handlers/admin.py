"""The clinic administrator's corner: the audit log (recent events, CSV export of a period) and the
doctors who blocked the bot (/unreachable, also pushed to the administrators as a notice).

Enforced twice: a role filter on the handlers, and the service again (a denial is audited).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

from handlers.formatting import format_moment
from handlers.notifications import register_kind
from services.audit import AuditQueryService, AuditRow, doctor_actor
from services.errors import N_, DomainError
from services.identity.access import AccessService
from services.notifications.unreachable import KIND as UNREACHABLE_KIND
from services.reachability import ReachabilityService, UnreachableDoctor
from storage.models.clinic_role import Role


class HasRole(BaseFilter):
    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, event: TelegramObject, access: AccessService, event_from_user: Any = None) -> bool:
        if event_from_user is None:
            return False
        context = await access.context_of(event_from_user.id)
        return context is not None and self.role in context.roles


class AuditExportCallback(CallbackData, prefix="audx"):
    days: int


EXPORT_DAYS = (1, 7, 30)


def parse_day(text: str) -> datetime:
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise DomainError(N_("Dates are written like 25.11.2026. Example: /audit_export 01.11.2026 25.11.2026"))


def render_rows(rows: list[AuditRow], locale: str) -> str:
    if not rows:
        return _("The audit log is empty.")
    lines = [_("<b>Audit log</b>, latest events (UTC):"), ""]
    marks = {"ok": "✅", "denied": "⛔", "failed": "⚠️"}
    for row in rows:
        moment = format_datetime(row.at, format="short", locale=locale, tzinfo=UTC)
        target = f" {escape(row.object_type or '')}:{escape(row.object_id or '')}" if row.object_type else ""
        lines.append(f"{marks.get(row.outcome, '•')} {moment} {escape(row.actor)} — {escape(row.operation)}{target}")
    return "\n".join(lines)


def export_keyboard() -> InlineKeyboardMarkup:
    labels = {1: _("CSV: 24 hours"), 7: _("CSV: 7 days"), 30: _("CSV: 30 days")}
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=labels[d], callback_data=AuditExportCallback(days=d).pack())
                for d in EXPORT_DAYS
            ]
        ]
    )


def render_unreachable(doctors: list[UnreachableDoctor], locale: str) -> str:
    if not doctors:
        return _("Every doctor of your clinics receives the bot's messages.")
    lines = [_("<b>Doctors who blocked the bot</b> — reminders and announcements do not reach them:"), ""]
    for doctor in doctors:
        specialty = f", {escape(doctor.specialty)}" if doctor.specialty else ""
        since = format_moment(doctor.since, locale)
        lines.append(_("• {name}{specialty} — since {since}").format(name=escape(doctor.name), specialty=specialty, since=since))
    lines += ["", _("Ask them to open the bot and press «Start»: delivery resumes by itself.")]
    return "\n".join(lines)


def _unreachable_notice(payload: dict[str, Any], locale: str) -> str:
    since = format_moment(datetime.fromisoformat(str(payload["since"])), locale)
    specialty = f" ({escape(str(payload['specialty']))})" if payload.get("specialty") else ""
    return _(
        "⚠️ <b>{name}</b>{specialty} blocked the bot on {since}: reminders, schedule changes and "
        "announcements no longer reach this doctor. Please contact them by phone. /unreachable — the full list."
    ).format(name=escape(str(payload.get("doctor", ""))), specialty=specialty, since=since)


register_kind(UNREACHABLE_KIND, _unreachable_notice)


def get_router() -> Router:
    router = Router(name="admin")

    @router.message(Command("unreachable"))
    async def unreachable(message: Message, reachability: ReachabilityService, locale: str) -> None:
        # The service checks the administrator role (a denial is audited and answered).
        assert message.from_user is not None
        doctors = await reachability.unreachable(message.from_user.id)
        await message.answer(render_unreachable(doctors, locale))

    @router.message(Command("audit"), HasRole(Role.ADMIN))
    async def audit_recent(message: Message, access: AccessService, audit_query: AuditQueryService, locale: str) -> None:
        assert message.from_user is not None
        context = await access.require(message.from_user.id, Role.ADMIN, "audit_view")
        rows = await audit_query.recent(doctor_actor(context.doctor_id))
        await message.answer(render_rows(rows, locale), reply_markup=export_keyboard())

    @router.message(Command("audit_export"), HasRole(Role.ADMIN))
    async def audit_export(
        message: Message, command: CommandObject, access: AccessService, audit_query: AuditQueryService
    ) -> None:
        assert message.from_user is not None
        context = await access.require(message.from_user.id, Role.ADMIN, "audit_export")
        parts = (command.args or "").split()
        if len(parts) != 2:
            raise DomainError(N_("Dates are written like 25.11.2026. Example: /audit_export 01.11.2026 25.11.2026"))
        start, end = parse_day(parts[0]), parse_day(parts[1]) + timedelta(days=1)
        data = await audit_query.export_csv(doctor_actor(context.doctor_id), start, end)
        name = f"audit_{start:%Y%m%d}_{end - timedelta(days=1):%Y%m%d}.csv"
        await message.answer_document(BufferedInputFile(data, filename=name), caption=_("Audit log export"))

    @router.callback_query(AuditExportCallback.filter(F.days.in_(EXPORT_DAYS)))
    async def audit_export_button(
        query: CallbackQuery, callback_data: AuditExportCallback, access: AccessService, audit_query: AuditQueryService
    ) -> None:
        # Checked again here: a forged button from a non-administrator is refused and audited.
        context = await access.require(query.from_user.id, Role.ADMIN, "audit_export")
        end = datetime.now(UTC)
        start = end - timedelta(days=callback_data.days)
        data = await audit_query.export_csv(doctor_actor(context.doctor_id), start, end)
        await query.answer()
        if query.message is not None and query.bot is not None:
            name = f"audit_{start:%Y%m%d}_{end:%Y%m%d}.csv"
            await query.bot.send_document(
                query.message.chat.id, BufferedInputFile(data, filename=name), caption=_("Audit log export")
            )

    @router.message(Command("audit", "audit_export"))
    async def audit_denied(message: Message, access: AccessService) -> None:
        # Not an administrator (or not signed in): the service says why and audits the denial.
        assert message.from_user is not None
        await access.require(message.from_user.id, Role.ADMIN, "audit_view")

    return router
