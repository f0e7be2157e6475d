"""/shifts: the doctor's own shifts, or the clinic's for an administrator (occupancy only, never a
patient): create (a draft), publish or withdraw, change the hours, delete. A change that would
leave booked appointments without a shift lists their times and asks before cancelling them."""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

from handlers import admin_requests
from handlers.filters import magic
from handlers.menu import back_to_menu_button
from handlers.render import edit_or_send
from handlers.schedule_ui import hhmm
from services.schedule.shifts import ShiftHasAppointments, ShiftService, ShiftView


class ShiftAction(StrEnum):
    OPEN = "o"
    NEW = "n"
    PUBLISH = "p"
    WITHDRAW = "w"
    HOURS = "h"
    DELETE = "d"
    DELETE_CANCELLING = "x"
    LIST = "l"
    DOCTOR = "r"


class ShiftCallback(CallbackData, prefix="sh"):
    action: ShiftAction
    id: int = 0


class ShiftEntry(StatesGroup):
    create = State()
    hours = State()


def _period(view: ShiftView, locale: str) -> str:
    tz = view.clinic.timezone
    day = format_datetime(view.starts_at, "EEE, d MMMM", tzinfo=ZoneInfo(tz), locale=locale)
    return f"{day}, {hhmm(view.starts_at, tz, locale)}–{hhmm(view.ends_at, tz, locale)}"


def shift_line(view: ShiftView, locale: str) -> str:
    status = _("published") if view.published else _("draft")
    return _("{period} · {clinic} · {minutes} min slots · {status} · booked {booked} of {slots}").format(
        period=_period(view, locale),
        clinic=view.clinic.short_name,
        minutes=view.slot_minutes,
        status=status,
        booked=view.booked,
        slots=view.slots,
    )


def list_screen(admin: bool, views: list[ShiftView], locale: str) -> tuple[str, InlineKeyboardMarkup]:
    title = _("<b>Clinic shifts, next two weeks</b>") if admin else _("<b>Your shifts, next two weeks</b>")
    lines = [title, ""] + ([shift_line(v, locale) for v in views] or [_("No shifts yet.")])
    rows = [
        [InlineKeyboardButton(text=_period(v, locale), callback_data=ShiftCallback(action=ShiftAction.OPEN, id=v.id).pack())]
        for v in views
    ]
    rows.append([InlineKeyboardButton(text=_("➕ New shift"), callback_data=ShiftCallback(action=ShiftAction.NEW).pack())])
    if admin:
        rows.append([admin_requests.start_button()])
    rows.append([back_to_menu_button()])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def shift_screen(view: ShiftView, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    def button(text: str, action: ShiftAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=ShiftCallback(action=action, id=view.id).pack())

    publish = button(_("📢 Withdraw from booking"), ShiftAction.WITHDRAW) if view.published else button(_("📢 Publish"), ShiftAction.PUBLISH)
    rows = [
        [publish],
        [button(_("🕘 Change hours"), ShiftAction.HOURS), button(_("🗑 Delete"), ShiftAction.DELETE)],
        [button(_("« Shifts"), ShiftAction.LIST)],
    ]
    return "<b>" + _("Shift") + "</b>\n" + shift_line(view, locale), InlineKeyboardMarkup(inline_keyboard=rows)


def affected_text(error: ShiftHasAppointments, locale: str) -> str:
    times = ", ".join(
        format_datetime(moment, "d MMMM HH:mm", tzinfo=ZoneInfo(error.timezone), locale=locale) for moment in error.starts
    )
    return _("{count} booked appointments would be left without a shift: {times}.").format(count=len(error.starts), times=times)


def get_router() -> Router:
    router = Router(name="shifts")

    @router.message(Command("shifts"))
    async def shifts_command(message: Message, shifts: ShiftService, locale: str) -> None:
        assert message.from_user is not None
        admin, views = await shifts.upcoming(message.from_user.id)
        text, markup = list_screen(admin, views, locale)
        await message.answer(text, reply_markup=markup)

    @router.callback_query(ShiftCallback.filter(F.action == ShiftAction.LIST))
    async def list_button(query: CallbackQuery, shifts: ShiftService, locale: str) -> None:
        admin, views = await shifts.upcoming(query.from_user.id)
        await edit_or_send(query, *list_screen(admin, views, locale))
        await query.answer()

    @router.callback_query(ShiftCallback.filter(F.action == ShiftAction.OPEN))
    async def open_shift(query: CallbackQuery, callback_data: ShiftCallback, shifts: ShiftService, locale: str) -> None:
        view = await shifts.view(query.from_user.id, callback_data.id)
        if view is None:
            await query.answer(_("This shift is no longer in your list. Open it again: /shifts"), show_alert=True)
            return
        await edit_or_send(query, *shift_screen(view, locale))
        await query.answer()

    @router.callback_query(ShiftCallback.filter(F.action.in_({ShiftAction.PUBLISH, ShiftAction.WITHDRAW})))
    async def publish(query: CallbackQuery, callback_data: ShiftCallback, shifts: ShiftService, locale: str) -> None:
        view = await shifts.set_published(query.from_user.id, callback_data.id, callback_data.action is ShiftAction.PUBLISH)
        await edit_or_send(query, *shift_screen(view, locale))
        await query.answer(_("Published: its free slots can be booked.") if view.published else _("Withdrawn: no new bookings."))

    @router.callback_query(ShiftCallback.filter(F.action.in_({ShiftAction.DELETE, ShiftAction.DELETE_CANCELLING})))
    async def delete(query: CallbackQuery, callback_data: ShiftCallback, shifts: ShiftService, locale: str) -> None:
        try:
            cancelled = await shifts.delete(
                query.from_user.id, callback_data.id, cancel_appointments=callback_data.action is ShiftAction.DELETE_CANCELLING
            )
        except ShiftHasAppointments as error:
            rows = [
                [InlineKeyboardButton(text=_("🗑 Delete and cancel them"), callback_data=ShiftCallback(action=ShiftAction.DELETE_CANCELLING, id=callback_data.id).pack())],
                [InlineKeyboardButton(text=_("Keep the shift"), callback_data=ShiftCallback(action=ShiftAction.OPEN, id=callback_data.id).pack())],
            ]
            await edit_or_send(query, affected_text(error, locale) + "\n\n" + _("What should be done?"), InlineKeyboardMarkup(inline_keyboard=rows))
            await query.answer()
            return
        admin, views = await shifts.upcoming(query.from_user.id)
        await edit_or_send(query, *list_screen(admin, views, locale))
        await query.answer(_("Shift deleted; appointments cancelled: {count}.").format(count=cancelled))

    @router.callback_query(ShiftCallback.filter(F.action == ShiftAction.NEW))
    async def new_shift(query: CallbackQuery, callback_data: ShiftCallback, state: FSMContext, shifts: ShiftService) -> None:
        admin, clinics = await shifts.clinics(query.from_user.id)
        chosen = next((c for c in clinics if c.id == callback_data.id), None)
        if chosen is None and len(clinics) > 1:
            rows = [
                [InlineKeyboardButton(text=c.short_name, callback_data=ShiftCallback(action=ShiftAction.NEW, id=c.id).pack())]
                for c in clinics
            ]
            await edit_or_send(query, _("In which clinic?"), InlineKeyboardMarkup(inline_keyboard=rows))
            await query.answer()
            return
        clinic = chosen or clinics[0]
        await state.set_data({"clinic": clinic.id})
        if admin:
            doctors = await shifts.doctors(query.from_user.id, clinic.id)
            rows = [
                [InlineKeyboardButton(text=d.name, callback_data=ShiftCallback(action=ShiftAction.DOCTOR, id=d.doctor_id).pack())]
                for d in doctors
            ]
            await edit_or_send(query, _("Whose shift?"), InlineKeyboardMarkup(inline_keyboard=rows))
            await query.answer()
            return
        await _ask_shift(query, state, clinic.short_name)

    async def _ask_shift(query: CallbackQuery, state: FSMContext, clinic_name: str) -> None:
        await state.set_state(ShiftEntry.create)
        await edit_or_send(
            query,
            _("Send the shift in {clinic}'s local time: day, hours and slot minutes, for example\n"
              "<code>25.12 09:00-15:00 30</code> or <code>завтра 08:00-14:00 20 перерыв 11:00-11:30</code>\n"
              "It is saved as a draft; publish it to open the slots. To stop: /cancel").format(clinic=clinic_name),
            None,
        )
        await query.answer()

    @router.callback_query(ShiftCallback.filter(F.action == ShiftAction.DOCTOR))
    async def pick_doctor(query: CallbackQuery, callback_data: ShiftCallback, state: FSMContext, shifts: ShiftService) -> None:
        data = await state.get_data()
        if "clinic" not in data:
            await query.answer(_("This shift is no longer in your list. Open it again: /shifts"), show_alert=True)
            return
        _admin, clinics = await shifts.clinics(query.from_user.id)
        clinic = next(c for c in clinics if c.id == int(data["clinic"]))
        await state.update_data(doctor=callback_data.id)
        await _ask_shift(query, state, clinic.short_name)

    @router.message(StateFilter(ShiftEntry.create), magic(F.text & ~F.text.startswith("/")))
    async def create(message: Message, state: FSMContext, shifts: ShiftService, locale: str) -> None:
        assert message.from_user is not None and message.text is not None
        data = await state.get_data()
        doctor = int(data["doctor"]) if data.get("doctor") else None
        view = await shifts.create(message.from_user.id, int(data["clinic"]), message.text, doctor)
        await state.clear()
        text, markup = shift_screen(view, locale)
        await message.answer(_("Draft saved.") + "\n\n" + text, reply_markup=markup)

    @router.callback_query(ShiftCallback.filter(F.action == ShiftAction.HOURS))
    async def ask_hours(query: CallbackQuery, callback_data: ShiftCallback, state: FSMContext) -> None:
        await state.set_state(ShiftEntry.hours)
        await state.set_data({"shift": callback_data.id})
        await edit_or_send(query, _("Send the new hours for the same day, for example 10:00-14:00. To stop: /cancel"), None)
        await query.answer()

    @router.message(StateFilter(ShiftEntry.hours), magic(F.text & ~F.text.startswith("/")))
    async def change_hours(message: Message, state: FSMContext, shifts: ShiftService, locale: str) -> None:
        assert message.from_user is not None and message.text is not None
        data = await state.get_data()
        text_hours = message.text
        force = bool(data.get("force")) and data.get("hours") == text_hours
        try:
            view = await shifts.change_hours(message.from_user.id, int(data["shift"]), text_hours, cancel_appointments=force)
        except ShiftHasAppointments as error:
            await state.update_data(force=True, hours=text_hours)
            await message.answer(
                affected_text(error, locale)
                + "\n\n"
                + _("Send the same hours again to change the shift and cancel them, or /cancel to keep everything.")
            )
            return
        await state.clear()
        text, markup = shift_screen(view, locale)
        await message.answer(_("Hours changed.") + "\n\n" + text, reply_markup=markup)

    return router
