"""The schedule's screens: callback data, texts and keyboards (no handlers here).

Times are shown in each clinic's time zone, dates and month names by Babel in the doctor's
language; a patient appears only as «Петрова А. В., 54 г.».
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_datetime

from handlers.menu import back_to_menu_button
from services.errors import N_, DomainError
from services.schedule.access import ClinicInfo
from services.schedule.service import AppointmentView, DayView, Moved, MoveOffer, PatientMask, WeekView
from services.schedule.slots import Slot

# --- callback data (ids, ordinals and timestamps only) -------------------------------------------


class DayCallback(CallbackData, prefix="sd"):
    day: int  # date.toordinal()
    clinic: int = 0  # 0: all the doctor's clinics


class WeekCallback(CallbackData, prefix="sw"):
    day: int
    clinic: int = 0


class MonthCallback(CallbackData, prefix="sc"):
    year: int
    month: int
    clinic: int = 0


class TodayCallback(CallbackData, prefix="st"):
    clinic: int = 0


class ApptAction(StrEnum):
    OPEN = "o"
    ARRIVED = "a"
    DONE = "f"
    NOSHOW = "n"
    CANCEL = "c"
    MOVE = "m"
    ICS = "i"
    WAITLIST = "w"
    UNDO = "u"


class ApptCallback(CallbackData, prefix="ap"):
    action: ApptAction
    id: int
    v: int = 0  # the version the button was made for


class MoveCallback(CallbackData, prefix="mv"):
    id: int
    v: int
    ts: int  # the new start, Unix seconds
    c: int = 0  # the clinic of that slot; 0: the appointment's own (buttons made before moves across clinics)


class RequestAction(StrEnum):
    CONFIRM = "y"
    DECLINE = "n"
    PROPOSE = "p"


class RequestCallback(CallbackData, prefix="cr"):
    action: RequestAction
    id: int


class CounterCallback(CallbackData, prefix="cc"):
    id: int
    ts: int


class FeedAction(StrEnum):
    NEW = "new"
    REVOKE = "revoke"


class FeedCallback(CallbackData, prefix="cf"):
    action: FeedAction


class BookStep(StrEnum):
    START = "s"
    CLINIC = "c"
    PATIENT = "p"
    DAY = "d"
    SLOT = "t"
    WAITLIST = "w"


class BookCallback(CallbackData, prefix="bk"):
    step: BookStep
    value: int = 0


# --- formatting ----------------------------------------------------------------------------------

STATUS_NAMES = {
    "booked": N_("🕒 booked"),
    "arrived": N_("🟢 arrived"),
    "fulfilled": N_("✅ completed"),
    "noshow": N_("🚫 no-show"),
    "cancelled": N_("❌ cancelled"),
}
REASON_NAMES = {
    "doctor_absent": N_("the doctor will be absent"),
    "patient_asked": N_("the patient asked"),
    "clinic_change": N_("the clinic's timetable changed"),
    "other": N_("another reason"),
}
REQUESTERS = {"registry": N_("the registry"), "patient": N_("the patient"), "admin": N_("the clinic administrator")}


@lru_cache(maxsize=4096)
def hhmm(moment: datetime, tz: str, locale: str) -> str:
    # Cached: a day view formats the same forty times in its text and its buttons, on every press.
    return format_datetime(moment, "HH:mm", tzinfo=ZoneInfo(tz), locale=locale)


def when(moment: datetime, tz: str, locale: str) -> str:
    return format_datetime(moment, "d MMMM, HH:mm", tzinfo=ZoneInfo(tz), locale=locale)


def long_day(day: date, locale: str) -> str:
    return format_date(day, format="full", locale=locale)


def masked(patient: PatientMask) -> str:
    name = escape(patient.name)
    return name if patient.age is None else _("{name}, age {age}").format(name=name, age=patient.age)


def status_name(status: str) -> str:
    return _(STATUS_NAMES[status])


def _clinic_label(clinics: Sequence[ClinicInfo], clinic_id: int | None) -> str:
    if clinic_id is None:
        return _("All clinics") if len(clinics) > 1 else escape(clinics[0].short_name)
    return escape(next(c.short_name for c in clinics if c.id == clinic_id))


# --- day -----------------------------------------------------------------------------------------


def day_text(view: DayView, locale: str) -> str:
    lines = [_("<b>Schedule for {day}</b>").format(day=long_day(view.day, locale)), _clinic_label(view.clinics, view.clinic_id), ""]
    several = len(view.clinics) > 1 and view.clinic_id is None
    if not view.appointments:
        lines.append(_("No appointments on this day."))
    for a in view.appointments:
        place = f" · {escape(a.clinic.short_name)}" if several else ""
        reason = f" — {escape(a.reason)}" if a.reason else ""
        line = f"<b>{hhmm(a.starts_at, a.clinic.timezone, locale)}</b>{place} — {masked(a.patient)}{reason} — {status_name(a.status)}"
        lines.append(f"<s>{line}</s>" if a.status == "cancelled" else line)
    lines += ["", _("Free slots: {count}").format(count=view.free)]
    return "\n".join(lines)


def _filter_row(clinics: Sequence[ClinicInfo], current: int | None, make: Any) -> list[InlineKeyboardButton]:
    if len(clinics) < 2:
        return []
    row = [InlineKeyboardButton(text=("• " if current is None else "") + _("All"), callback_data=make(0))]
    row += [
        InlineKeyboardButton(text=("• " if current == c.id else "") + c.short_name, callback_data=make(c.id))
        for c in clinics
    ]
    return row


def day_keyboard(view: DayView, locale: str) -> InlineKeyboardMarkup:
    clinic = view.clinic_id or 0
    rows: list[list[InlineKeyboardButton]] = []
    for a in view.appointments:
        label = f"{hhmm(a.starts_at, a.clinic.timezone, locale)} {a.patient.name}"
        rows.append([InlineKeyboardButton(text=label, callback_data=ApptCallback(action=ApptAction.OPEN, id=a.id, v=a.version).pack())])
    day = view.day.toordinal()
    rows.append(
        [
            InlineKeyboardButton(text="◀", callback_data=DayCallback(day=day - 1, clinic=clinic).pack()),
            InlineKeyboardButton(text=_("Today"), callback_data=TodayCallback(clinic=clinic).pack()),
            InlineKeyboardButton(text="▶", callback_data=DayCallback(day=day + 1, clinic=clinic).pack()),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(text=_("🗓 Week"), callback_data=WeekCallback(day=day, clinic=clinic).pack()),
            InlineKeyboardButton(
                text=_("📅 Calendar"),
                callback_data=MonthCallback(year=view.day.year, month=view.day.month, clinic=clinic).pack(),
            ),
        ]
    )
    if filters := _filter_row(view.clinics, view.clinic_id, lambda c: DayCallback(day=day, clinic=c).pack()):
        rows.append(filters)
    rows.append([InlineKeyboardButton(text=_("➕ Book a patient"), callback_data=BookCallback(step=BookStep.START, value=clinic).pack())])
    rows.append([back_to_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


# --- week ----------------------------------------------------------------------------------------


def week_text(view: WeekView, locale: str) -> str:
    end = view.start + timedelta(days=6)
    lines = [
        _("<b>Week {start} – {end}</b>").format(
            start=format_date(view.start, "d MMMM", locale=locale), end=format_date(end, "d MMMM", locale=locale)
        ),
        _clinic_label(view.clinics, view.clinic_id),
        "",
    ]
    for d in view.days:
        label = format_date(d.day, "EEE, d MMM", locale=locale)
        lines.append(_("{day}: booked {booked}, free {free}").format(day=label, booked=d.booked, free=d.free))
    return "\n".join(lines)


def week_keyboard(view: WeekView, locale: str) -> InlineKeyboardMarkup:
    clinic = view.clinic_id or 0
    rows = [
        [
            InlineKeyboardButton(
                text=format_date(d.day, "EEE d", locale=locale) + (f" · {d.booked}" if d.booked else ""),
                callback_data=DayCallback(day=d.day.toordinal(), clinic=clinic).pack(),
            )
            for d in view.days[i : i + 4]
        ]
        for i in (0, 4)
    ]
    start = view.start.toordinal()
    rows.append(
        [
            InlineKeyboardButton(text=_("◀ Previous week"), callback_data=WeekCallback(day=start - 7, clinic=clinic).pack()),
            InlineKeyboardButton(text=_("Next week ▶"), callback_data=WeekCallback(day=start + 7, clinic=clinic).pack()),
        ]
    )
    if filters := _filter_row(view.clinics, view.clinic_id, lambda c: WeekCallback(day=start, clinic=c).pack()):
        rows.append(filters)
    rows.append(
        [
            InlineKeyboardButton(
                text=_("📅 Calendar"),
                callback_data=MonthCallback(year=view.start.year, month=view.start.month, clinic=clinic).pack(),
            ),
            InlineKeyboardButton(text=_("Today"), callback_data=TodayCallback(clinic=clinic).pack()),
        ]
    )
    rows.append([back_to_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


# --- month calendar ------------------------------------------------------------------------------


def month_text(year: int, month: int, locale: str) -> str:
    title = format_date(date(year, month, 1), "LLLL y", locale=locale)
    return _("<b>{month}</b>\nChoose a day, or send a date (25.12, 25 декабря, завтра).").format(month=title.capitalize())


def month_keyboard(year: int, month: int, clinic: int, today: date, locale: str) -> InlineKeyboardMarkup:
    monday = date(2024, 1, 1)  # a Monday: weekday names in the doctor's language
    rows = [
        [
            InlineKeyboardButton(
                text=format_date(monday + timedelta(days=i), "EEEEEE", locale=locale),
                callback_data=MonthCallback(year=year, month=month, clinic=clinic).pack(),
            )
            for i in range(7)
        ]
    ]
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        rows.append(
            [
                InlineKeyboardButton(
                    text=(f"[{d.day}]" if d == today else str(d.day)) if d.month == month else "·",
                    callback_data=DayCallback(day=d.toordinal(), clinic=clinic).pack(),
                )
                for d in week
            ]
        )
    previous = date(year, month, 1) - timedelta(days=1)
    following = date(year, month, 28) + timedelta(days=7)
    rows.append(
        [
            InlineKeyboardButton(text="◀", callback_data=MonthCallback(year=previous.year, month=previous.month, clinic=clinic).pack()),
            InlineKeyboardButton(text=_("Today"), callback_data=TodayCallback(clinic=clinic).pack()),
            InlineKeyboardButton(text="▶", callback_data=MonthCallback(year=following.year, month=following.month, clinic=clinic).pack()),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


# --- appointment card ----------------------------------------------------------------------------


def card_text(a: AppointmentView, locale: str) -> str:
    tz = a.clinic.timezone
    lines = [
        _("<b>Appointment {day}, {start}–{end}</b>").format(
            day=format_datetime(a.starts_at, "d MMMM y", tzinfo=ZoneInfo(tz), locale=locale),
            start=hhmm(a.starts_at, tz, locale),
            end=hhmm(a.ends_at, tz, locale),
        ),
        _("Clinic: {clinic}").format(clinic=escape(a.clinic.short_name)),
        _("Patient: {patient}").format(patient=masked(a.patient)),
    ]
    if a.reason:
        lines.append(_("Reason: {reason}").format(reason=escape(a.reason)))
    lines.append(_("Status: {status}").format(status=status_name(a.status)))
    if a.status == "cancelled" and a.cancel_reason:
        lines.append(_("Cancellation reason: {reason}").format(reason=escape(a.cancel_reason)))
    return "\n".join(lines)


def card_keyboard(a: AppointmentView, *, waiting: int = 0) -> InlineKeyboardMarkup:
    def button(text: str, action: ApptAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=ApptCallback(action=action, id=a.id, v=a.version).pack())

    rows: list[list[InlineKeyboardButton]] = []
    if a.status == "booked":
        rows.append([button(_("🟢 Arrived"), ApptAction.ARRIVED), button(_("🚫 No-show"), ApptAction.NOSHOW)])
        rows.append([button(_("✅ Completed"), ApptAction.DONE)])
        rows.append([button(_("🔁 Reschedule"), ApptAction.MOVE), button(_("❌ Cancel"), ApptAction.CANCEL)])
    elif a.status == "arrived":
        rows.append([button(_("✅ Completed"), ApptAction.DONE), button(_("❌ Cancel"), ApptAction.CANCEL)])
    if waiting:
        rows.append([button(_("📋 Book from the waitlist ({count})").format(count=waiting), ApptAction.WAITLIST)])
    rows.append([button(_("📆 Add to calendar (.ics)"), ApptAction.ICS)])
    local_day = a.starts_at.astimezone(ZoneInfo(a.clinic.timezone)).date()
    rows.append([InlineKeyboardButton(text=_("« Schedule"), callback_data=DayCallback(day=local_day.toordinal()).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def slots_keyboard(
    slots: Sequence[Slot],
    tz_of: dict[int, str],
    locale: str,
    make: Any,
    back: InlineKeyboardButton,
    clinic_names: dict[int, str] | None = None,
) -> InlineKeyboardMarkup:
    """Two times a row; with ``clinic_names`` each says its clinic, one a row (they get long)."""

    def label(slot: Slot) -> str:
        moment = when(slot.starts_at, tz_of[slot.clinic_id], locale)
        return moment if clinic_names is None else f"{moment} · {clinic_names[slot.clinic_id]}"

    per_row = 2 if clinic_names is None else 1
    rows = [
        [InlineKeyboardButton(text=label(s), callback_data=make(s)) for s in slots[i : i + per_row]]
        for i in range(0, len(slots), per_row)
    ]
    rows.append([back])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def move_keyboard(view: AppointmentView, offer: MoveOffer, locale: str) -> InlineKeyboardMarkup:
    """The offered slots as buttons: each names its clinic when the doctor works in several, and
    carries the clinic it is in (0 for the appointment's own) — the service checks it again."""

    def make(slot: Slot) -> str:
        clinic = 0 if slot.clinic_id == view.clinic.id else slot.clinic_id
        return MoveCallback(id=view.id, v=view.version, ts=int(slot.starts_at.timestamp()), c=clinic).pack()

    back = InlineKeyboardButton(
        text=_("« Back"), callback_data=ApptCallback(action=ApptAction.OPEN, id=view.id, v=view.version).pack()
    )
    names = {c: info.short_name for c, info in offer.clinics.items()} if offer.several else None
    return slots_keyboard(offer.slots, {c: info.timezone for c, info in offer.clinics.items()}, locale, make, back, names)


def move_offer_text(view: AppointmentView, offer: MoveOffer, locale: str) -> str:
    lines = [card_text(view, locale), ""]
    if offer.other_clinics:
        names = ", ".join(escape(c.short_name) for c in offer.other_clinics)
        lines.append(_("The patient is also registered in {clinics}: free slots there are offered too.").format(clinics=names))
    lines.append(_("Choose the new time:"))
    return "\n".join(lines)


def moved_text(moved: Moved, locale: str) -> str:
    """«Moved from … to …», naming both clinics when the move changed the clinic."""
    view, before = moved.appointment, moved.from_clinic
    old = when(moved.from_starts_at, before.timezone, locale)
    new = when(view.starts_at, view.clinic.timezone, locale)
    if not moved.clinic_changed:
        return _("Moved from {old} to {new}.").format(old=old, new=new)
    return _("Moved from {old} ({old_clinic}) to {new} ({new_clinic}).").format(
        old=old, old_clinic=escape(before.short_name), new=new, new_clinic=escape(view.clinic.short_name)
    )


def undone_text(moved: Moved) -> str:
    if not moved.clinic_changed:
        return _("The move is undone.")
    return _("The move is undone: the appointment is back in {clinic}.").format(
        clinic=escape(moved.appointment.clinic.short_name)
    )


# --- notifications -------------------------------------------------------------------------------


def _moment(payload: dict[str, Any], key: str, locale: str) -> str:
    return when(datetime.fromisoformat(str(payload[key])), str(payload["timezone"]), locale)


def render_change_request(payload: dict[str, Any], locale: str) -> str:
    lines = [
        _("🔔 <b>Appointment change request</b>"),
        _("From: {requester}").format(requester=_(REQUESTERS.get(str(payload.get("requested_by")), N_("the registry")))),
        _("Appointment: {when} ({clinic})").format(when=_moment(payload, "starts_at", locale), clinic=escape(str(payload.get("clinic", "")))),
    ]
    if payload.get("kind") == "move" and payload.get("proposed_starts_at"):
        lines.append(_("Asked to move it to: <b>{when}</b>").format(when=_moment(payload, "proposed_starts_at", locale)))
    else:
        lines.append(_("Asked to <b>cancel</b> it."))
    if payload.get("reason") in REASON_NAMES:
        lines.append(_("Reason: {reason}").format(reason=_(REASON_NAMES[str(payload["reason"])])))
    if payload.get("reminder"):
        lines.insert(0, _("⏳ <b>Still waiting for your decision</b>"))
    return "\n".join(lines)


def change_request_keyboard(notification_id: int, payload: dict[str, Any]) -> list[list[InlineKeyboardButton]]:
    request_id = int(payload["request_id"])

    def button(text: str, action: RequestAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=RequestCallback(action=action, id=request_id).pack())

    return [
        [button(_("✅ Confirm"), RequestAction.CONFIRM), button(_("✖️ Reject"), RequestAction.DECLINE)],
        [button(_("🕑 Propose another time"), RequestAction.PROPOSE)],
    ]


RESULTS = {
    "confirmed": N_("confirmed"),
    "declined": N_("declined"),
    "countered": N_("the doctor proposes another time"),
}


def render_change_request_result(payload: dict[str, Any], locale: str) -> str:
    status = _(RESULTS.get(str(payload.get("status")), N_("declined")))
    text = _("Request No. {id} about an appointment: {status}.").format(id=int(payload["request_id"]), status=status)
    return text + "\n" + _("Appointment time: {when}").format(when=_moment(payload, "starts_at", locale))


def render_reminder(payload: dict[str, Any], locale: str) -> str:
    return _("⏰ <b>Upcoming appointment</b>: {when} ({clinic})").format(
        when=_moment(payload, "starts_at", locale), clinic=escape(str(payload.get("clinic", "")))
    )


def reminder_keyboard(notification_id: int, payload: dict[str, Any]) -> list[list[InlineKeyboardButton]]:
    callback = ApptCallback(action=ApptAction.OPEN, id=int(payload["appointment_id"])).pack()
    return [[InlineKeyboardButton(text=_("Open the appointment"), callback_data=callback)]]


def render_brief_line(line: dict[str, Any], locale: str) -> str | None:
    count = int(line.get("count", 0))
    parts = []
    if count and line.get("first_at") and line.get("timezone"):
        first = hhmm(datetime.fromisoformat(str(line["first_at"])), str(line["timezone"]), locale)
        parts.append(_("• Appointments today: {count}, the first at {time}").format(count=count, time=first))
    else:
        parts.append(_("• No appointments today"))
    pending = int(line.get("pending", 0))
    if pending:
        parts.append(_("• Change requests waiting for your decision: {count}").format(count=pending))
    return "\n".join(parts)


def brief_button(line: dict[str, Any]) -> InlineKeyboardButton | None:
    return InlineKeyboardButton(text=_("📅 Today's schedule"), callback_data=TodayCallback().pack())


# --- numbers from buttons ------------------------------------------------------------------------


def stale_button() -> DomainError:
    return DomainError(N_("This button is out of date. Open the menu again: /start"))


def button_moment(timestamp: int) -> datetime:
    """A slot's start from a button; a forged number is an out-of-date button, not a crash."""
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise stale_button() from None


def button_day(ordinal: int) -> date:
    try:
        return date.fromordinal(ordinal)
    except (ValueError, OverflowError):
        raise stale_button() from None
