"""A clinic administrator's change request from the chat: doctor → day → appointment (a time,
never a patient) → «Перенести» (a free slot) or «Отменить» → reason → confirm.

Stateless: every step's button carries the ids chosen so far, and the service checks them all
again, so a forged button is refused (and audited) at whatever step it arrives.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from handlers.menu import back_to_menu_button
from handlers.render import edit_or_send
from handlers.schedule_ui import REASON_NAMES, button_moment, hhmm, stale_button, when
from services.schedule.admin_requests import AdminAppointment, AdminRequestService
from storage.models.change_request import REASONS, REQUEST_CANCEL, REQUEST_MOVE

DAY_BUTTONS = 7


class AdminStep(StrEnum):
    DOCTORS = "l"
    DOCTOR = "d"
    DAY = "y"
    APPOINTMENT = "a"
    MOVE = "m"
    SLOT = "t"
    CANCEL = "c"
    REASON = "r"
    SEND = "s"


class AdminRequestCallback(CallbackData, prefix="ar"):
    step: AdminStep
    clinic: int = 0
    id: int = 0  # a doctor (DOCTOR, DAY) or an appointment (the later steps)
    day: int = 0  # date.toordinal()
    ts: int = 0  # the proposed new start (UTC timestamp); 0: a cancellation
    reason: str = ""


def _button(text: str, **fields: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=AdminRequestCallback(**fields).pack())


def start_button() -> InlineKeyboardButton:
    return _button(_("✉️ Ask a doctor to move or cancel an appointment"), step=AdminStep.DOCTORS)


def _appointment_line(appointment: AdminAppointment, locale: str) -> str:
    return _("Appointment: {when} ({clinic})").format(
        when=when(appointment.starts_at, appointment.clinic.timezone, locale), clinic=appointment.clinic.short_name
    )


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def get_router() -> Router:
    router = Router(name="admin_requests")

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.DOCTORS))
    async def doctors(query: CallbackQuery, admin_requests: AdminRequestService) -> None:
        found = await admin_requests.doctors(query.from_user.id)
        several = len({d.clinic.id for d in found}) > 1
        rows = [
            [
                _button(
                    f"{d.name} · {d.clinic.short_name}" if several else d.name,
                    step=AdminStep.DOCTOR, clinic=d.clinic.id, id=d.doctor_id,
                )
            ]
            for d in found
        ]
        rows.append([back_to_menu_button()])
        text = _("Whose appointment should be moved or cancelled?") if found else _("There are no doctors in your clinic yet.")
        await edit_or_send(query, text, InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.DOCTOR))
    async def days(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService, locale: str) -> None:
        doctor = await admin_requests.doctor(query.from_user.id, callback_data.clinic, callback_data.id)
        today = datetime.now(UTC).astimezone(ZoneInfo(doctor.clinic.timezone)).date()
        buttons = [
            _button(
                format_date(today + timedelta(days=n), "EEE, d MMM", locale=locale),
                step=AdminStep.DAY, clinic=doctor.clinic.id, id=doctor.doctor_id, day=(today + timedelta(days=n)).toordinal(),
            )
            for n in range(DAY_BUTTONS)
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append([_button(_("« Doctors"), step=AdminStep.DOCTORS)])
        await edit_or_send(query, _("{doctor}: which day?").format(doctor=doctor.name), InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.DAY))
    async def day(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService, locale: str) -> None:
        if not 0 < callback_data.day <= date.max.toordinal():
            raise stale_button()
        chosen = date.fromordinal(callback_data.day)
        found = await admin_requests.day(query.from_user.id, callback_data.clinic, callback_data.id, chosen)
        buttons = [
            _button(hhmm(a.starts_at, a.clinic.timezone, locale), step=AdminStep.APPOINTMENT, id=a.id) for a in found
        ]
        rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
        rows.append([_button(_("« Days"), step=AdminStep.DOCTOR, clinic=callback_data.clinic, id=callback_data.id)])
        day_name = format_date(chosen, "d MMMM", locale=locale)
        text = (
            _("Booked appointments on {day} that have not started yet. Which one?").format(day=day_name)
            if found
            else _("No booked appointments on {day} that could still be changed.").format(day=day_name)
        )
        await edit_or_send(query, text, InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.APPOINTMENT))
    async def appointment(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService, locale: str) -> None:
        found = await admin_requests.appointment(query.from_user.id, callback_data.id)
        local_day = found.starts_at.astimezone(ZoneInfo(found.clinic.timezone)).date()
        rows = [
            [_button(_("🕑 Move"), step=AdminStep.MOVE, id=found.id), _button(_("❌ Cancel"), step=AdminStep.CANCEL, id=found.id)],
            [_button(_("« Appointments"), step=AdminStep.DAY, clinic=found.clinic.id, id=found.doctor_id, day=local_day.toordinal())],
        ]
        await edit_or_send(query, _appointment_line(found, locale) + "\n" + _("What should the doctor be asked?"), InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.MOVE))
    async def move(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService, locale: str) -> None:
        found, slots = await admin_requests.move_slots(query.from_user.id, callback_data.id)
        tz = found.clinic.timezone
        buttons = [
            _button(when(s.starts_at, tz, locale), step=AdminStep.SLOT, id=found.id, ts=int(s.starts_at.timestamp())) for s in slots
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append([_button(_("« Back"), step=AdminStep.APPOINTMENT, id=found.id)])
        text = _appointment_line(found, locale) + "\n" + (
            _("The doctor's free times in this clinic. Which one to propose?")
            if slots
            else _("The doctor has no free time in this clinic in the next two weeks. You can ask to cancel instead.")
        )
        await edit_or_send(query, text, InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step.in_({AdminStep.SLOT, AdminStep.CANCEL})))
    async def reason(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService, locale: str) -> None:
        found = await admin_requests.appointment(query.from_user.id, callback_data.id)
        ts = callback_data.ts if callback_data.step is AdminStep.SLOT else 0
        if callback_data.step is AdminStep.SLOT and ts <= 0:
            raise stale_button()
        rows = [
            [_button(_capitalized(_(REASON_NAMES[code])), step=AdminStep.REASON, id=found.id, ts=ts, reason=code)] for code in REASONS
        ]
        rows.append([_button(_("« Back"), step=AdminStep.APPOINTMENT, id=found.id)])
        await edit_or_send(query, _appointment_line(found, locale) + "\n" + _("What is the reason?"), InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.REASON))
    async def confirm(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService, locale: str) -> None:
        if callback_data.reason not in REASONS:
            raise stale_button()
        found = await admin_requests.appointment(query.from_user.id, callback_data.id)
        if callback_data.ts:
            ask = _("Ask the doctor to move it to <b>{when}</b>.").format(
                when=when(button_moment(callback_data.ts), found.clinic.timezone, locale)
            )
        else:
            ask = _("Ask the doctor to <b>cancel</b> it.")
        text = "\n".join(
            [_appointment_line(found, locale), ask, _("Reason: {reason}").format(reason=_(REASON_NAMES[callback_data.reason]))]
        )
        rows = [
            [_button(_("📨 Send to the doctor"), step=AdminStep.SEND, id=found.id, ts=callback_data.ts, reason=callback_data.reason)],
            [_button(_("« Back"), step=AdminStep.APPOINTMENT, id=found.id)],
        ]
        await edit_or_send(query, text, InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(AdminRequestCallback.filter(F.step == AdminStep.SEND))
    async def send(query: CallbackQuery, callback_data: AdminRequestCallback, admin_requests: AdminRequestService) -> None:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        request_id = await admin_requests.file(
            query.from_user.id,
            chat_id,
            callback_data.id,
            kind=REQUEST_MOVE if callback_data.ts else REQUEST_CANCEL,
            reason=callback_data.reason,
            proposed_starts_at=button_moment(callback_data.ts) if callback_data.ts else None,
        )
        text = _("Request No. {id} has been sent to the doctor. Their decision will come to this chat.").format(id=request_id)
        await edit_or_send(query, text, InlineKeyboardMarkup(inline_keyboard=[[back_to_menu_button()]]))
        await query.answer(_("Sent."))

    return router
