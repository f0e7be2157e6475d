"""Notifications as the doctor sees them: rendering each kind, snooze/done buttons, and the
«Уведомления» settings screen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from handlers.callbacks import MenuAction, MenuCallback
from handlers.formatting import format_moment
from handlers.menu import back_to_menu_button
from handlers.render import edit_or_send
from services.errors import N_
from services.notification_settings import (
    BRIEF_PRESETS,
    CONFIGURABLE_KINDS,
    LEAD_PRESETS,
    QUIET_PRESETS,
    NotificationSettings,
    NotificationSettingsService,
)
from services.reminders import SNOOZABLE, ReminderActions

KIND_NAMES = {
    "morning_brief": N_("Morning brief"),
    "appointment_reminder": N_("Appointment reminders"),
    "change_request": N_("Schedule change requests"),
    "cme_deadline": N_("CME deadlines"),
    "document_expiry": N_("Expiring documents"),
    "announcement": N_("Clinic announcements"),
}


def _kind_name(kind: str) -> str:
    return _(KIND_NAMES[kind])


class ReminderAction(StrEnum):
    SNOOZE = "snooze"
    DONE = "done"


class ReminderCallback(CallbackData, prefix="rem"):
    action: ReminderAction
    notification_id: int
    minutes: int = 0


class NotifySetting(StrEnum):
    KIND = "kind"
    QUIET = "quiet"
    SILENT = "silent"
    BRIEF = "brief"
    LEAD = "lead"
    SHORT = "short"  # reminders of appointments shorter than 20 minutes


class NotifyCallback(CallbackData, prefix="ntf"):
    setting: NotifySetting
    value: str = ""


# --- rendering ---------------------------------------------------------------------------------


# Feature modules plug in here (handlers only: rendering is presentation). A kind renderer gets the
# outbox payload and the locale and returns HTML text; a brief-line renderer gets one line of the
# morning brief (``services.reminders.BriefLine`` as stored) and returns its text, or None to skip.
KindRenderer = Callable[[dict[str, Any], str], str]
BriefLineRenderer = Callable[[dict[str, Any], str], str | None]
KIND_RENDERERS: dict[str, KindRenderer] = {}
BriefButton = Callable[[dict[str, Any]], InlineKeyboardButton | None]
BRIEF_LINE_RENDERERS: dict[str, BriefLineRenderer] = {}
BRIEF_BUTTONS: dict[str, BriefButton] = {}
# A kind's own buttons (rows above the snooze/done ones), from the payload: e.g. a change request's
# «Подтвердить» / «Отклонить». Given the notification id too, for buttons that refer to it.
KindKeyboard = Callable[[int, dict[str, Any]], list[list[InlineKeyboardButton]]]
KIND_KEYBOARDS: dict[str, KindKeyboard] = {}


def register_kind(kind: str, renderer: KindRenderer, keyboard: KindKeyboard | None = None) -> None:
    KIND_RENDERERS[kind] = renderer
    if keyboard is not None:
        KIND_KEYBOARDS[kind] = keyboard


def register_brief_line(section: str, renderer: BriefLineRenderer, button: BriefButton | None = None) -> None:
    """A brief section's text and, optionally, a button into its list (e.g. «Расписание»)."""
    BRIEF_LINE_RENDERERS[section] = renderer
    if button is not None:
        BRIEF_BUTTONS[section] = button


def render_notification(
    i18n: I18n, notification_id: int, kind: str, payload: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The message for one outbox row, in the language stored with it."""
    locale = str(payload.get("locale") or i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        text = _render_text(kind, payload, locale)
        markup = reminder_keyboard(notification_id) if kind in SNOOZABLE else None
        if kind == "morning_brief" and markup is not None:
            markup.inline_keyboard[:0] = _brief_buttons(payload)
        if kind in KIND_KEYBOARDS and (rows := KIND_KEYBOARDS[kind](notification_id, payload)):
            markup = InlineKeyboardMarkup(inline_keyboard=[*rows, *(markup.inline_keyboard if markup else [])])
    return text, markup


def _brief_buttons(payload: dict[str, Any]) -> list[list[InlineKeyboardButton]]:
    """One row per section that has a list to open, in the brief's order."""
    rows: list[list[InlineKeyboardButton]] = []
    for line in payload.get("lines") or []:
        make = BRIEF_BUTTONS.get(str(line.get("section")))
        if make is not None and (button := make(line)) is not None:
            rows.append([button])
    return rows


def _render_text(kind: str, payload: dict[str, Any], locale: str) -> str:
    if kind in KIND_RENDERERS:
        return KIND_RENDERERS[kind](payload, locale)
    if kind == "document_expiry":
        until = date.fromisoformat(str(payload["valid_until"]))
        shown = format_date(until, format="long", locale=locale)
        days = int(payload.get("days", 0))
        specialty = escape(str(payload.get("specialty") or "—"))
        if payload.get("document") == "certificate":
            return _certificate_expiry_text(specialty, shown, days)
        if days < 0:
            return _(
                "⚠️ <b>Accreditation has expired</b> ({specialty}): it was valid until {date}. "
                "File the portfolio for periodic accreditation in your FRMR personal cabinet."
            ).format(specialty=specialty, date=shown)
        return _(
            "⏳ <b>Accreditation expires soon</b> ({specialty}): valid until {date}, days left: {days}. "
            "The portfolio can be filed no earlier than 12 months before that, in your FRMR personal cabinet."
        ).format(specialty=specialty, date=shown, days=days)
    if kind == "morning_brief":
        day = format_date(date.fromisoformat(str(payload["date"])), format="full", locale=locale)
        lines = [_("☀️ <b>Good morning!</b> Your brief for {date}:").format(date=day), ""]
        for line in payload.get("lines") or []:
            render_line = BRIEF_LINE_RENDERERS.get(str(line.get("section")))
            if render_line is not None and (shown_line := render_line(line, locale)):
                lines.append(shown_line)
        if len(lines) == 2:
            lines.append(_("Nothing needs your attention. Have a good day!"))
        return "\n".join(lines)
    if kind == "announcement":
        return _("📢 <b>Clinic announcement</b>") + "\n\n" + escape(str(payload.get("text", "")))
    return escape(str(payload.get("text", "")))


def _accreditation_line(line: dict[str, Any], locale: str) -> str:
    return _("• Accreditation: days left {days}").format(days=int(line.get("days", 0)))


register_brief_line("accreditation", _accreditation_line)


def _certificate_expiry_text(specialty: str, shown: str, days: int) -> str:
    """A specialist certificate cannot be renewed since 2021: the way on is periodic accreditation."""
    if days < 0:
        return _(
            "⚠️ <b>Specialist certificate has expired</b> ({specialty}): it was valid until {date}. "
            "Since 2021 certificates are replaced by periodic accreditation: file for accreditation "
            "in your FRMR personal cabinet."
        ).format(specialty=specialty, date=shown)
    return _(
        "⏳ <b>Specialist certificate expires soon</b> ({specialty}): valid until {date}, days left: {days}. "
        "Since 2021 certificates are replaced by periodic accreditation: file for accreditation "
        "in your FRMR personal cabinet before the certificate expires."
    ).format(specialty=specialty, date=shown, days=days)


def reminder_keyboard(notification_id: int) -> InlineKeyboardMarkup:
    def button(text: str, action: ReminderAction, minutes: int = 0) -> InlineKeyboardButton:
        data = ReminderCallback(action=action, notification_id=notification_id, minutes=minutes).pack()
        return InlineKeyboardButton(text=text, callback_data=data)

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                button(_("⏰ Snooze 15 min"), ReminderAction.SNOOZE, 15),
                button(_("⏰ 1 hour"), ReminderAction.SNOOZE, 60),
            ],
            [button(_("✅ Done"), ReminderAction.DONE)],
        ]
    )


# --- settings screen ---------------------------------------------------------------------------


def settings_text(settings: NotificationSettings) -> str:
    if settings.quiet_enabled:
        quiet = _("from {start} to {end}").format(
            start=settings.quiet_start.strftime("%H:%M"), end=settings.quiet_end.strftime("%H:%M")
        )
    else:
        quiet = _("off")
    brief = settings.brief_time.strftime("%H:%M") if settings.brief_time else _("30 min before the first shift (08:00 without a schedule)")
    return "\n".join(
        [
            _("<b>Notifications</b>"),
            "",
            _("Quiet hours: {quiet}. Routine messages wait until they end; urgent ones come at once.").format(quiet=quiet),
            _("Morning brief: {time}").format(time=brief),
            _("Appointment reminders: {minutes} min before").format(minutes=settings.reminder_lead_minutes),
            _("Appointments shorter than 20 min: reminded too") if settings.remind_short_appointments else _("Appointments shorter than 20 min: no reminder"),
            _("Routine messages without sound: {value}").format(value=_("yes") if settings.silent_routine else _("no")),
            _("Time zone: {tz}").format(tz=escape(settings.timezone)),
            "",
            _("Tap a kind to switch it on or off:"),
        ]
    )


def settings_keyboard(settings: NotificationSettings) -> InlineKeyboardMarkup:
    rows = []
    for kind in CONFIGURABLE_KINDS:
        mark = "🔕" if kind in settings.disabled_kinds else "🔔"
        rows.append(
            [
                InlineKeyboardButton(
                    text=f"{mark} {_kind_name(kind)}",
                    callback_data=NotifyCallback(setting=NotifySetting.KIND, value=kind).pack(),
                )
            ]
        )
    quiet_labels = {"off": _("no quiet hours"), "21-08": "21–08", "22-07": "22–07", "23-08": "23–08"}
    rows.append(
        [
            InlineKeyboardButton(
                text=("✓ " if settings.quiet_preset == key else "") + label,
                callback_data=NotifyCallback(setting=NotifySetting.QUIET, value=key).pack(),
            )
            for key, label in quiet_labels.items()
            if key in QUIET_PRESETS
        ]
    )
    current_brief = settings.brief_time.strftime("%H:%M") if settings.brief_time else "auto"
    rows.append(
        [
            InlineKeyboardButton(
                text=("✓ " if current_brief == preset else "") + (_("auto") if preset == "auto" else preset),
                # ':' separates callback_data fields, so 07:30 travels as 07.30.
                callback_data=NotifyCallback(setting=NotifySetting.BRIEF, value=preset.replace(":", ".")).pack(),
            )
            for preset in BRIEF_PRESETS
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                text=("✓ " if settings.reminder_lead_minutes == minutes else "")
                + _("{minutes} min").format(minutes=minutes),
                callback_data=NotifyCallback(setting=NotifySetting.LEAD, value=str(minutes)).pack(),
            )
            for minutes in LEAD_PRESETS
        ]
    )
    short = _("⏱ Remind of short appointments too: on") if settings.remind_short_appointments else _("⏱ Remind of short appointments too: off")
    rows.append([InlineKeyboardButton(text=short, callback_data=NotifyCallback(setting=NotifySetting.SHORT).pack())])
    rows.append(
        [
            InlineKeyboardButton(
                text=(_("🔈 Routine without sound: on") if settings.silent_routine else _("🔊 Routine without sound: off")),
                callback_data=NotifyCallback(setting=NotifySetting.SILENT).pack(),
            )
        ]
    )
    rows.append([back_to_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def get_router() -> Router:
    router = Router(name="notifications")

    @router.message(Command("notifications"))
    async def notifications_command(message: Message, notification_settings: NotificationSettingsService) -> None:
        assert message.from_user is not None
        settings = await notification_settings.get(message.from_user.id)
        await message.answer(settings_text(settings), reply_markup=settings_keyboard(settings))

    @router.callback_query(MenuCallback.filter(F.action == MenuAction.NOTIFICATIONS))
    async def notifications_button(query: CallbackQuery, notification_settings: NotificationSettingsService) -> None:
        settings = await notification_settings.get(query.from_user.id)
        await edit_or_send(query, settings_text(settings), settings_keyboard(settings))
        await query.answer()

    @router.callback_query(NotifyCallback.filter())
    async def change_setting(
        query: CallbackQuery, callback_data: NotifyCallback, notification_settings: NotificationSettingsService
    ) -> None:
        service, user = notification_settings, query.from_user.id
        if callback_data.setting is NotifySetting.KIND:
            settings = await service.toggle_kind(user, callback_data.value)
        elif callback_data.setting is NotifySetting.QUIET:
            settings = await service.set_quiet(user, callback_data.value)
        elif callback_data.setting is NotifySetting.LEAD:
            settings = await service.set_reminder_lead(user, callback_data.value)
        elif callback_data.setting is NotifySetting.BRIEF:
            settings = await service.set_brief_time(user, callback_data.value.replace(".", ":"))
        elif callback_data.setting is NotifySetting.SHORT:
            settings = await service.toggle_short_reminders(user)
        else:
            settings = await service.toggle_silent(user)
        await edit_or_send(query, settings_text(settings), settings_keyboard(settings))
        await query.answer(_("Saved."))

    @router.callback_query(ReminderCallback.filter(F.action == ReminderAction.SNOOZE))
    async def snooze(
        query: CallbackQuery, callback_data: ReminderCallback, reminder_actions: ReminderActions, locale: str
    ) -> None:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        due = await reminder_actions.snooze(chat_id, callback_data.notification_id, callback_data.minutes)
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)
        await query.answer(_("I'll remind you at {moment}.").format(moment=format_moment(due, locale)))

    @router.callback_query(ReminderCallback.filter(F.action == ReminderAction.DONE))
    async def done(query: CallbackQuery) -> None:
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)
        await query.answer(_("Done."))

    return router
