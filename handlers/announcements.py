"""/announce: a clinic administrator sends an announcement to doctors, with live progress."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.filters import magic
from handlers.render import edit_or_send
from services.announcements import AnnouncementService, Progress, check_text


class AnnounceFlow(StatesGroup):
    text = State()
    audience = State()
    specialty = State()


class AudienceCallback(CallbackData, prefix="ann"):
    clinic_id: int  # 0: all doctors


class SpecialtyCallback(CallbackData, prefix="anns"):
    # An index into the list shown (kept in the conversation's data): specialty names do not fit
    # in callback_data's 64 bytes. -1: every specialty.
    index: int


def progress_text(progress: Progress) -> str:
    head = _("📢 Announcement sent") if progress.done else _("📢 Sending the announcement…")
    return "\n".join(
        [
            head,
            _("Delivered: {sent} of {total}").format(sent=progress.sent, total=progress.total),
            _("Not delivered: {failed}").format(failed=progress.failed),
        ]
    )


def get_router() -> Router:
    router = Router(name="announcements")

    @router.message(Command("announce"))
    async def announce(message: Message, state: FSMContext, announcements: AnnouncementService) -> None:
        assert message.from_user is not None
        await announcements.clinics_of(message.from_user.id)  # administrators only (audited denial)
        await state.set_state(AnnounceFlow.text)
        await message.answer(_("Send the text of the announcement (up to 3500 characters), or /cancel."))

    @router.message(StateFilter(AnnounceFlow.text), magic(F.text))
    async def announcement_text(message: Message, state: FSMContext, announcements: AnnouncementService) -> None:
        assert message.text is not None and message.from_user is not None
        text = check_text(message.text)
        clinics = await announcements.clinics_of(message.from_user.id)
        await state.update_data(text=text)
        await state.set_state(AnnounceFlow.audience)
        rows = [[InlineKeyboardButton(text=_("All doctors"), callback_data=AudienceCallback(clinic_id=0).pack())]]
        rows += [
            [
                InlineKeyboardButton(
                    text=_("Doctors of {clinic}").format(clinic=c.short_name),
                    callback_data=AudienceCallback(clinic_id=c.clinic_id).pack(),
                )
            ]
            for c in clinics
        ]
        await message.answer(_("Who should receive it?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))

    @router.message(StateFilter(AnnounceFlow.text))
    async def announcement_not_text(message: Message) -> None:
        await message.answer(_("Send the announcement as text, or /cancel."))

    @router.callback_query(StateFilter(AnnounceFlow.audience), AudienceCallback.filter())
    async def audience(
        query: CallbackQuery, callback_data: AudienceCallback, state: FSMContext, announcements: AnnouncementService
    ) -> None:
        clinic_id = callback_data.clinic_id or None
        specialties = await announcements.specialties(query.from_user.id, clinic_id)
        await state.update_data(clinic_id=clinic_id, specialties=specialties)
        await state.set_state(AnnounceFlow.specialty)
        rows = [[InlineKeyboardButton(text=_("Every specialty"), callback_data=SpecialtyCallback(index=-1).pack())]]
        rows += [
            [InlineKeyboardButton(text=name, callback_data=SpecialtyCallback(index=i).pack())]
            for i, name in enumerate(specialties)
        ]
        await query.answer()
        await edit_or_send(query, _("Which specialty?"), InlineKeyboardMarkup(inline_keyboard=rows))

    @router.callback_query(StateFilter(AnnounceFlow.specialty), SpecialtyCallback.filter())
    async def specialty(
        query: CallbackQuery, callback_data: SpecialtyCallback, state: FSMContext, announcements: AnnouncementService
    ) -> None:
        data = await state.get_data()
        specialties = list(data.get("specialties") or [])
        if not -1 <= callback_data.index < len(specialties):
            await query.answer(_("This button is out of date. Open the menu again: /start"), show_alert=True)
            return
        chosen = specialties[callback_data.index] if callback_data.index >= 0 else None
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        announcement_id, total = await announcements.create(
            query.from_user.id, chat_id, str(data.get("text", "")), data.get("clinic_id"), chosen
        )
        await state.clear()
        await query.answer()
        progress = Progress(announcement_id, chat_id, 0, total, 0, 0)
        await edit_or_send(query, progress_text(progress), None)
        if isinstance(query.message, Message):
            await announcements.attach_progress_message(announcement_id, chat_id, query.message.message_id)

    @router.callback_query(AudienceCallback.filter())
    @router.callback_query(SpecialtyCallback.filter())
    async def stale_audience(query: CallbackQuery) -> None:
        await query.answer(_("This button is out of date. Open the menu again: /start"), show_alert=True)

    return router
