"""/today, /schedule and «📅 Расписание»: the day, the week, the month calendar, appointment cards
and their actions, rescheduling with undo, booking, change-request decisions, calendar export.

Every screen with patient data is sent protected (no forwarding or saving). Buttons carry ids and
versions only; the services check that the appointment is the doctor's (a forged button is denied
and audited) and that it has not changed since the button was made.
"""

from __future__ import annotations

from datetime import date

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.callbacks import MenuAction, MenuCallback
from handlers.filters import magic
from handlers.notifications import register_brief_line, register_kind
from handlers.render import Screens, edit_or_send
from handlers.schedule_ui import (
    ApptAction,
    ApptCallback,
    BookCallback,
    BookStep,
    CounterCallback,
    DayCallback,
    FeedAction,
    FeedCallback,
    MonthCallback,
    MoveCallback,
    RequestAction,
    RequestCallback,
    TodayCallback,
    WeekCallback,
    brief_button,
    button_day,
    button_moment,
    card_keyboard,
    card_text,
    change_request_keyboard,
    day_keyboard,
    day_text,
    month_keyboard,
    month_text,
    move_keyboard,
    move_offer_text,
    moved_text,
    reminder_keyboard,
    render_brief_line,
    render_change_request,
    render_change_request_result,
    render_reminder,
    slots_keyboard,
    undone_text,
    week_keyboard,
    week_text,
    when,
)
from services.errors import N_, DomainError
from services.schedule import notifications as schedule_notifications
from services.schedule.calendar import FEED_PATH, CalendarService
from services.schedule.change_requests import ChangeRequestService
from services.schedule.dates import parse_day
from services.schedule.service import AppointmentView, Cancelled, ScheduleService, Stale

register_kind("change_request", render_change_request, change_request_keyboard)
register_kind("change_request_result", render_change_request_result)
register_kind("appointment_reminder", render_reminder, reminder_keyboard)
register_brief_line(schedule_notifications.SECTION, render_brief_line, brief_button)


class CancelReason(StatesGroup):
    reason = State()


class Booking(StatesGroup):
    patient = State()
    day = State()


class DayInput(StatesGroup):
    """The month calendar is open: a typed date jumps to that day."""

    date = State()


def _query_chat(query: CallbackQuery) -> int:
    return query.message.chat.id if query.message is not None else query.from_user.id


async def show_protected(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """A screen with patient data: edited in place only into a message sent protected (no
    forwarding, no saving); pressed on anything else (the main menu, a notification), it comes as
    a new protected message."""
    message = query.message
    if isinstance(message, Message) and message.has_protected_content:
        await edit_or_send(query, text, markup)
    elif query.bot is not None:
        await query.bot.send_message(_query_chat(query), text, reply_markup=markup, protect_content=True)


async def _show_day(
    query: CallbackQuery, schedule: ScheduleService, screens: Screens, locale: str, day: date | None, clinic: int | None
) -> None:
    view = await schedule.day(query.from_user.id, day, clinic)
    text, markup = screens.of(view, locale, lambda: (day_text(view, locale), day_keyboard(view, locale)))
    await show_protected(query, text, markup)
    await query.answer()


async def _send_card(message: Message, view: AppointmentView, locale: str, waiting: int = 0) -> None:
    await message.answer(card_text(view, locale), reply_markup=card_keyboard(view, waiting=waiting), protect_content=True)


def get_router() -> Router:
    router = Router(name="schedule")

    # --- day, week, month --------------------------------------------------------------------

    @router.message(Command("today"))
    async def today_command(message: Message, state: FSMContext, schedule: ScheduleService, locale: str) -> None:
        assert message.from_user is not None
        view = await schedule.day(message.from_user.id)
        await message.answer(day_text(view, locale), reply_markup=day_keyboard(view, locale), protect_content=True)

    @router.message(Command("schedule"))
    async def schedule_command(message: Message, schedule: ScheduleService, locale: str) -> None:
        assert message.from_user is not None
        view = await schedule.week(message.from_user.id)
        await message.answer(week_text(view, locale), reply_markup=week_keyboard(view, locale))

    @router.callback_query(MenuCallback.filter(F.action == MenuAction.SCHEDULE))
    async def menu_button(query: CallbackQuery, schedule: ScheduleService, screens: Screens, locale: str) -> None:
        await _show_day(query, schedule, screens, locale, None, None)

    @router.callback_query(TodayCallback.filter())
    async def today_button(
        query: CallbackQuery, callback_data: TodayCallback, schedule: ScheduleService, screens: Screens, locale: str
    ) -> None:
        await _show_day(query, schedule, screens, locale, None, callback_data.clinic or None)

    @router.callback_query(DayCallback.filter())
    async def day_button(
        query: CallbackQuery, callback_data: DayCallback, schedule: ScheduleService, screens: Screens, locale: str
    ) -> None:
        try:
            day = date.fromordinal(callback_data.day) if callback_data.day > 0 else None
        except (ValueError, OverflowError):
            day = None  # a forged ordinal: today instead
        await _show_day(query, schedule, screens, locale, day, callback_data.clinic or None)

    @router.callback_query(WeekCallback.filter())
    async def week_button(query: CallbackQuery, callback_data: WeekCallback, schedule: ScheduleService, locale: str) -> None:
        try:
            start = date.fromordinal(callback_data.day)
        except (ValueError, OverflowError):
            start = None
        view = await schedule.week(query.from_user.id, start, callback_data.clinic or None)
        await edit_or_send(query, week_text(view, locale), week_keyboard(view, locale))
        await query.answer()

    @router.callback_query(MonthCallback.filter())
    async def month_button(
        query: CallbackQuery, callback_data: MonthCallback, state: FSMContext, schedule: ScheduleService, locale: str
    ) -> None:
        today = await schedule.local_today(query.from_user.id)
        year, month = callback_data.year, callback_data.month
        if not (1 <= month <= 12 and today.year - 5 <= year <= today.year + 5):
            year, month = today.year, today.month
        await state.set_state(DayInput.date)
        await state.update_data(clinic=callback_data.clinic)
        await edit_or_send(query, month_text(year, month, locale), month_keyboard(year, month, callback_data.clinic, today, locale))
        await query.answer()

    @router.message(StateFilter(DayInput.date), magic(F.text & ~F.text.startswith("/")))
    async def typed_day(message: Message, state: FSMContext, schedule: ScheduleService, locale: str) -> None:
        assert message.from_user is not None and message.text is not None
        today = await schedule.local_today(message.from_user.id)
        day = parse_day(message.text, today)  # a bad date: the error handler explains, the state stays
        clinic = int((await state.get_data()).get("clinic") or 0)
        await state.clear()
        view = await schedule.day(message.from_user.id, day, clinic or None)
        await message.answer(day_text(view, locale), reply_markup=day_keyboard(view, locale), protect_content=True)

    # --- appointment card --------------------------------------------------------------------

    @router.callback_query(ApptCallback.filter(F.action == ApptAction.OPEN))
    async def open_card(query: CallbackQuery, callback_data: ApptCallback, schedule: ScheduleService, locale: str) -> None:
        view = await schedule.card(query.from_user.id, callback_data.id)
        await show_protected(query, card_text(view, locale), card_keyboard(view))
        await query.answer()

    async def _stale(query: CallbackQuery, schedule: ScheduleService, appointment_id: int, locale: str) -> None:
        """The button was made for an older version: say so and show the appointment as it is now."""
        view = await schedule.card(query.from_user.id, appointment_id)
        await show_protected(query, card_text(view, locale), card_keyboard(view))
        await query.answer(_(Stale().message_id), show_alert=True)

    statuses = {ApptAction.ARRIVED: "arrived", ApptAction.DONE: "fulfilled", ApptAction.NOSHOW: "noshow"}

    @router.callback_query(ApptCallback.filter(F.action.in_(set(statuses))))
    async def change_status(query: CallbackQuery, callback_data: ApptCallback, schedule: ScheduleService, locale: str) -> None:
        try:
            result = await schedule.set_status(query.from_user.id, callback_data.id, callback_data.v, statuses[callback_data.action])
        except Stale:
            await _stale(query, schedule, callback_data.id, locale)
            return
        assert isinstance(result, AppointmentView)
        await show_protected(query, card_text(result, locale), card_keyboard(result))
        await query.answer(_("Saved."))

    @router.callback_query(ApptCallback.filter(F.action == ApptAction.CANCEL))
    async def ask_cancel_reason(
        query: CallbackQuery, callback_data: ApptCallback, state: FSMContext, schedule: ScheduleService
    ) -> None:
        await schedule.card(query.from_user.id, callback_data.id)  # the doctor's own, else denied and audited
        await state.set_state(CancelReason.reason)
        await state.update_data(appointment_id=callback_data.id, version=callback_data.v)
        if query.message is not None and query.bot is not None:
            await query.bot.send_message(
                _query_chat(query), _("Why is the appointment cancelled? Send the reason in one message, or /cancel.")
            )
        await query.answer()

    @router.message(StateFilter(CancelReason.reason), magic(F.text & ~F.text.startswith("/")))
    async def cancel_with_reason(message: Message, state: FSMContext, schedule: ScheduleService, locale: str) -> None:
        assert message.from_user is not None and message.text is not None
        data = await state.get_data()
        try:
            result = await schedule.set_status(
                message.from_user.id, int(data["appointment_id"]), int(data["version"]), "cancelled", message.text
            )
        except Stale:
            await state.clear()
            view = await schedule.card(message.from_user.id, int(data["appointment_id"]))
            await message.answer(_(Stale().message_id))
            await _send_card(message, view, locale)
            return
        await state.clear()
        assert isinstance(result, Cancelled)
        await message.answer(_("The appointment is cancelled."))
        await _send_card(message, result.appointment, locale, waiting=result.waiting)

    @router.callback_query(ApptCallback.filter(F.action == ApptAction.WAITLIST))
    async def fill_from_waitlist(query: CallbackQuery, callback_data: ApptCallback, schedule: ScheduleService, locale: str) -> None:
        view = await schedule.fill_from_waitlist(query.from_user.id, callback_data.id)
        await show_protected(query, _("Booked from the waitlist:") + "\n\n" + card_text(view, locale), card_keyboard(view))
        await query.answer(_("Booked."))

    @router.callback_query(ApptCallback.filter(F.action == ApptAction.ICS))
    async def export_ics(query: CallbackQuery, callback_data: ApptCallback, calendar: CalendarService) -> None:
        content = await calendar.appointment_ics(query.from_user.id, callback_data.id, _("Appointment"))
        if query.bot is not None:
            await query.bot.send_document(
                _query_chat(query), BufferedInputFile(content, filename=f"appointment-{callback_data.id}.ics")
            )
        await query.answer()

    # --- rescheduling ------------------------------------------------------------------------

    @router.callback_query(ApptCallback.filter(F.action == ApptAction.MOVE))
    async def offer_slots(query: CallbackQuery, callback_data: ApptCallback, schedule: ScheduleService, locale: str) -> None:
        view = await schedule.card(query.from_user.id, callback_data.id)
        if view.version != callback_data.v:
            await _stale(query, schedule, callback_data.id, locale)
            return
        offer = await schedule.next_slots(query.from_user.id, callback_data.id)
        if not offer.slots:
            await query.answer(_("There are no free slots in the next two weeks."), show_alert=True)
            return
        await show_protected(query, move_offer_text(view, offer, locale), move_keyboard(view, offer, locale))
        await query.answer()

    @router.callback_query(MoveCallback.filter())
    async def move(query: CallbackQuery, callback_data: MoveCallback, schedule: ScheduleService, locale: str) -> None:
        starts_at = button_moment(callback_data.ts)
        try:
            moved = await schedule.reschedule(
                query.from_user.id, callback_data.id, callback_data.v, starts_at, callback_data.c or None
            )
        except Stale:
            await _stale(query, schedule, callback_data.id, locale)
            return
        view = moved.appointment
        markup = card_keyboard(view)
        undo = InlineKeyboardButton(
            text=_("↩️ Undo"), callback_data=ApptCallback(action=ApptAction.UNDO, id=view.id, v=view.version).pack()
        )
        markup.inline_keyboard.insert(0, [undo])
        await show_protected(query, moved_text(moved, locale) + "\n\n" + card_text(view, locale), markup)
        await query.answer(_("Moved."))

    @router.callback_query(ApptCallback.filter(F.action == ApptAction.UNDO))
    async def undo(query: CallbackQuery, callback_data: ApptCallback, schedule: ScheduleService, locale: str) -> None:
        moved = await schedule.undo(query.from_user.id, callback_data.id, callback_data.v)
        view = moved.appointment
        await show_protected(query, undone_text(moved) + "\n\n" + card_text(view, locale), card_keyboard(view))
        await query.answer(_("Undone."))

    # --- booking -----------------------------------------------------------------------------

    async def _ask_patient(target: Message, state: FSMContext, clinic_id: int) -> None:
        await state.set_state(Booking.patient)
        await state.set_data({"clinic": clinic_id})
        await target.answer(_("Send the patient's surname in full or the 16-digit policy number. To stop: /cancel"))

    @router.callback_query(BookCallback.filter(F.step == BookStep.START))
    async def book_start(
        query: CallbackQuery, callback_data: BookCallback, state: FSMContext, schedule: ScheduleService
    ) -> None:
        actor = await schedule.actor(query.from_user.id)
        if not isinstance(query.message, Message):
            await query.answer()
            return
        if callback_data.value in actor.clinics or len(actor.clinics) == 1:
            clinic = callback_data.value if callback_data.value in actor.clinics else next(iter(actor.clinics))
            await _ask_patient(query.message, state, clinic)
        else:
            rows = [
                [InlineKeyboardButton(text=c.short_name, callback_data=BookCallback(step=BookStep.CLINIC, value=c.id).pack())]
                for c in actor.clinics.values()
            ]
            await query.message.answer(_("In which clinic?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
        await query.answer()

    @router.callback_query(BookCallback.filter(F.step == BookStep.CLINIC))
    async def book_clinic(
        query: CallbackQuery, callback_data: BookCallback, state: FSMContext, schedule: ScheduleService
    ) -> None:
        actor = await schedule.actor(query.from_user.id)
        if callback_data.value not in actor.clinics:
            raise DomainError(N_("You do not work in this clinic. Open the schedule again: /today"))
        if isinstance(query.message, Message):
            await _ask_patient(query.message, state, callback_data.value)
        await query.answer()

    @router.message(StateFilter(Booking.patient), magic(F.text & ~F.text.startswith("/")))
    async def book_find(message: Message, state: FSMContext, schedule: ScheduleService) -> None:
        assert message.from_user is not None and message.text is not None
        clinic = int((await state.get_data())["clinic"])
        found = await schedule.find_patients(message.from_user.id, clinic, message.text)
        if not found:
            await message.answer(_("Nobody found in this clinic. Check the surname (in full) or send the policy number."))
            return
        rows = [
            [InlineKeyboardButton(text=p.name + (f", {p.age}" if p.age is not None else ""), callback_data=BookCallback(step=BookStep.PATIENT, value=p.patient_id).pack())]
            for p in found
        ]
        await message.answer(_("Choose the patient:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows), protect_content=True)

    @router.callback_query(StateFilter(Booking.patient, Booking.day), BookCallback.filter(F.step == BookStep.PATIENT))
    async def book_patient(
        query: CallbackQuery, callback_data: BookCallback, state: FSMContext, schedule: ScheduleService
    ) -> None:
        today = await schedule.local_today(query.from_user.id)
        await state.update_data(patient=callback_data.value)
        await state.set_state(Booking.day)
        rows = [
            [
                InlineKeyboardButton(text=_("Today"), callback_data=BookCallback(step=BookStep.DAY, value=today.toordinal()).pack()),
                InlineKeyboardButton(text=_("Tomorrow"), callback_data=BookCallback(step=BookStep.DAY, value=today.toordinal() + 1).pack()),
            ],
            [
                InlineKeyboardButton(
                    text=_("📋 Waitlist: offer an earlier slot when one frees"),
                    callback_data=BookCallback(step=BookStep.WAITLIST, value=callback_data.value).pack(),
                )
            ],
        ]
        if isinstance(query.message, Message):
            await query.message.answer(
                _("Which day? Choose, or send a date: 25.12, 25 декабря, завтра."),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
            )
        await query.answer()

    async def _offer_day(target: Message, user_id: int, state: FSMContext, schedule: ScheduleService, day: date, locale: str) -> None:
        data = await state.get_data()
        clinic = int(data["clinic"])
        slots = await schedule.free_slots_on(user_id, clinic, day)
        if not slots:
            await target.answer(_("No free slots on that day. Send another date."))
            return
        actor = await schedule.actor(user_id)
        markup = slots_keyboard(
            slots[:24],
            {clinic: actor.clinics[clinic].timezone},
            locale,
            lambda s: BookCallback(step=BookStep.SLOT, value=int(s.starts_at.timestamp())).pack(),
            InlineKeyboardButton(text=_("« Another day"), callback_data=BookCallback(step=BookStep.PATIENT, value=int(data["patient"])).pack()),
        )
        await target.answer(_("Free slots — choose the time:"), reply_markup=markup)

    @router.callback_query(StateFilter(Booking.day), BookCallback.filter(F.step == BookStep.DAY))
    async def book_day_button(
        query: CallbackQuery, callback_data: BookCallback, state: FSMContext, schedule: ScheduleService, locale: str
    ) -> None:
        if isinstance(query.message, Message):
            await _offer_day(query.message, query.from_user.id, state, schedule, button_day(callback_data.value), locale)
        await query.answer()

    @router.message(StateFilter(Booking.day), magic(F.text & ~F.text.startswith("/")))
    async def book_day_typed(message: Message, state: FSMContext, schedule: ScheduleService, locale: str) -> None:
        assert message.from_user is not None and message.text is not None
        today = await schedule.local_today(message.from_user.id)
        day = parse_day(message.text, today, allow_past=False)
        await _offer_day(message, message.from_user.id, state, schedule, day, locale)

    @router.callback_query(StateFilter(Booking.day), BookCallback.filter(F.step == BookStep.SLOT))
    async def book_slot(
        query: CallbackQuery, callback_data: BookCallback, state: FSMContext, schedule: ScheduleService, locale: str
    ) -> None:
        data = await state.get_data()
        view = await schedule.book(
            query.from_user.id, int(data["clinic"]), int(data["patient"]), button_moment(callback_data.value)
        )
        await state.clear()
        await show_protected(query, _("✅ Booked.") + "\n\n" + card_text(view, locale), card_keyboard(view))
        await query.answer(_("Booked."))

    @router.callback_query(StateFilter(Booking.day), BookCallback.filter(F.step == BookStep.WAITLIST))
    async def book_waitlist(
        query: CallbackQuery, callback_data: BookCallback, state: FSMContext, schedule: ScheduleService
    ) -> None:
        data = await state.get_data()
        await schedule.add_to_waitlist(query.from_user.id, int(data["clinic"]), callback_data.value)
        await state.clear()
        await edit_or_send(
            query, _("The patient is on the waitlist. When an appointment is cancelled, you will be offered the slot."), None
        )
        await query.answer()

    @router.callback_query(BookCallback.filter())
    async def book_out_of_date(query: CallbackQuery) -> None:
        await query.answer(_("This booking has been finished or cancelled. Start again from the schedule: /today"), show_alert=True)

    # --- change requests ---------------------------------------------------------------------

    @router.callback_query(RequestCallback.filter(F.action.in_({RequestAction.CONFIRM, RequestAction.DECLINE})))
    async def decide(
        query: CallbackQuery, callback_data: RequestCallback, change_requests: ChangeRequestService, locale: str
    ) -> None:
        decision = await change_requests.decide(query.from_user.id, callback_data.id, callback_data.action is RequestAction.CONFIRM)
        text = (
            _("✅ Confirmed. The appointment is now at {when}.")
            if decision.status == "confirmed"
            else _("✖️ Declined. The appointment stays at {when}.")
        ).format(when=when(decision.starts_at, decision.timezone, locale))
        await _close_request(query, text)

    async def _close_request(query: CallbackQuery, text: str) -> None:
        if isinstance(query.message, Message):
            original = query.message.html_text if query.message.text else ""
            await edit_or_send(query, (original + "\n\n" if original else "") + text, None)
        await query.answer(text[:200])

    @router.callback_query(RequestCallback.filter(F.action == RequestAction.PROPOSE))
    async def propose(
        query: CallbackQuery, callback_data: RequestCallback, change_requests: ChangeRequestService, schedule: ScheduleService, locale: str
    ) -> None:
        slots = await change_requests.counter_slots(query.from_user.id, callback_data.id)
        if not slots:
            await query.answer(_("There are no free slots in the next two weeks."), show_alert=True)
            return
        actor = await schedule.actor(query.from_user.id)
        markup = slots_keyboard(
            slots,
            {c: info.timezone for c, info in actor.clinics.items()},
            locale,
            lambda s: CounterCallback(id=callback_data.id, ts=int(s.starts_at.timestamp())).pack(),
            InlineKeyboardButton(text=_("✖️ Decline instead"), callback_data=RequestCallback(action=RequestAction.DECLINE, id=callback_data.id).pack()),
        )
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=markup)
        await query.answer(_("Choose the time to propose."))

    @router.callback_query(CounterCallback.filter())
    async def counter(
        query: CallbackQuery, callback_data: CounterCallback, change_requests: ChangeRequestService, locale: str
    ) -> None:
        decision = await change_requests.counter(query.from_user.id, callback_data.id, button_moment(callback_data.ts))
        await _close_request(
            query, _("🕑 You proposed {when}; the requester has been told.").format(when=when(decision.starts_at, decision.timezone, locale))
        )

    # --- calendar feed -----------------------------------------------------------------------

    @router.message(Command("calendar"))
    async def calendar_command(message: Message, calendar: CalendarService) -> None:
        assert message.from_user is not None
        active = await calendar.has_feed(message.from_user.id)
        await message.answer(_calendar_text(active), reply_markup=_calendar_keyboard(active))

    @router.callback_query(FeedCallback.filter(F.action == FeedAction.NEW))
    async def calendar_new(query: CallbackQuery, calendar: CalendarService, public_url: str | None = None) -> None:
        token = await calendar.create_feed(query.from_user.id)
        url = (public_url or "") + FEED_PATH.format(token=token)
        if query.bot is not None:
            await query.bot.send_message(
                _query_chat(query),
                _("Your personal calendar link (keep it secret; a new link stops the old one):\n<code>{url}</code>\n\n"
                  "Add it in your calendar app as a subscription. Patient names are not included.").format(url=url),
                protect_content=True,
            )
        await query.answer()

    @router.callback_query(FeedCallback.filter(F.action == FeedAction.REVOKE))
    async def calendar_revoke(query: CallbackQuery, calendar: CalendarService) -> None:
        await calendar.revoke_feed(query.from_user.id)
        await edit_or_send(query, _calendar_text(False), _calendar_keyboard(False))
        await query.answer(_("The link no longer works."))

    @router.message(StateFilter(CancelReason.reason, Booking.patient, Booking.day, DayInput.date), magic(~F.text))
    async def not_text(message: Message) -> None:
        await message.answer(_("Send it as a text message, or /cancel."))

    return router


def _calendar_text(active: bool) -> str:
    status = _("A personal calendar link is active.") if active else _("No personal calendar link yet.")
    return _("<b>Calendar</b>\n\n{status}\nThe link lets a calendar app show your appointments (times and clinics only).").format(status=status)


def _calendar_keyboard(active: bool) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=_("🔗 New link"), callback_data=FeedCallback(action=FeedAction.NEW).pack())]]
    if active:
        rows.append([InlineKeyboardButton(text=_("🚫 Revoke the link"), callback_data=FeedCallback(action=FeedAction.REVOKE).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)

