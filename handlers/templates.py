"""/templates: the clinic administrator lists, views and edits the clinic's document templates
(title, fields, text — one conversation step each, checked before saving) and resets them.

Templates only: no patient or document is ever shown here.
"""

from __future__ import annotations

from enum import StrEnum
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.filters import magic
from handlers.menu import back_to_menu_button
from services.template_admin import (
    MAX_BODY,
    MAX_FIELDS,
    MAX_TITLE,
    AdminClinic,
    TemplateAdminService,
    TemplateLine,
    TemplateView,
    fields_as_text,
)


class TplAction(StrEnum):
    CLINIC = "clinic"
    OPEN = "open"
    TITLE = "title"
    FIELDS = "fields"
    TEXT = "text"
    RESET = "reset"


class TplCallback(CallbackData, prefix="tpl"):
    action: TplAction
    clinic: int
    code: str = ""


class TplFlow(StatesGroup):
    title = State()
    fields = State()
    text = State()


EDIT_STATES = {TplAction.TITLE: TplFlow.title, TplAction.FIELDS: TplFlow.fields, TplAction.TEXT: TplFlow.text}


def _button(text: str, action: TplAction, clinic: int, code: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=TplCallback(action=action, clinic=clinic, code=code).pack())


def clinics_keyboard(clinics: list[AdminClinic]) -> InlineKeyboardMarkup:
    rows = [[_button(c.name, TplAction.CLINIC, c.clinic_id)] for c in clinics]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [back_to_menu_button()]])


def list_keyboard(clinic_id: int, lines: list[TemplateLine]) -> InlineKeyboardMarkup:
    rows = [[_button(("✏️ " if line.custom else "📄 ") + line.title[:50], TplAction.OPEN, clinic_id, line.code)]
            for line in lines]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [back_to_menu_button()]])


def kind_name(kind: str) -> str:
    return _("МКБ-10 code") if kind == "icd10" else _("text")


def render_view(view: TemplateView) -> str:
    origin = _("the clinic's version") if view.custom else _("the default")
    lines = [
        f"<b>{escape(view.title)}</b> ({origin})",
        "",
        _("<b>Fields</b> (key — question, kind, max length):"),
        *(
            f"• <code>{escape(str(f['key']))}</code> — {escape(str(f['label']))}, {kind_name(str(f.get('kind')))}, "
            f"{int(f.get('max', 0))}"
            for f in view.fields
        ),
        "",
        _("<b>Text</b> ({{patient}} and {{clinic}} are filled in by the bot):").format(),
        f"<pre>{escape(view.body)}</pre>",
    ]
    return "\n".join(lines)


def view_keyboard(view: TemplateView) -> InlineKeyboardMarkup:
    clinic, code = view.clinic_id, view.code
    rows = [
        [_button(_("✏️ Title"), TplAction.TITLE, clinic, code), _button(_("✏️ Fields"), TplAction.FIELDS, clinic, code)],
        [_button(_("✏️ Text"), TplAction.TEXT, clinic, code)],
    ]
    if view.custom:
        rows.append([_button(_("↩️ Reset to the default"), TplAction.RESET, clinic, code)])
    rows.append([_button(_("« Templates"), TplAction.CLINIC, clinic)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def edit_prompt(action: TplAction, view: TemplateView) -> str:
    if action == TplAction.TITLE:
        return _("Send the new title (up to {limit} characters), or /cancel.").format(limit=MAX_TITLE)
    if action == TplAction.FIELDS:
        return _(
            "Send the fields, one per line (up to {limit}): <code>key | question | text or icd10 | max length</code>. "
            "Keys are small Latin letters, unique; every key must appear in the text as {{key}}. Now:\n"
            "<pre>{current}</pre>\nOr /cancel."
        ).format(limit=MAX_FIELDS, current=escape(fields_as_text(view.fields)))
    return _(
        "Send the new text (up to {limit} characters). Use {{key}} for the answers, {{patient}} and {{clinic}} "
        "for the patient's name and the clinic. Or /cancel."
    ).format(limit=MAX_BODY)


async def show_list(message: Message, templates: TemplateAdminService, tg: int, clinic_id: int) -> None:
    lines = await templates.list(tg, clinic_id)
    await message.answer(
        _("<b>Document templates</b>\n\n✏️ — changed by the clinic, 📄 — the default. Choose one to view or edit:"),
        reply_markup=list_keyboard(clinic_id, lines),
    )


def get_router() -> Router:
    router = Router(name="templates")

    @router.message(Command("templates"))
    async def command(message: Message, state: FSMContext, templates: TemplateAdminService) -> None:
        assert message.from_user is not None
        await state.clear()
        clinics = await templates.clinics(message.from_user.id)
        if len(clinics) == 1:
            await show_list(message, templates, message.from_user.id, clinics[0].clinic_id)
            return
        if not clinics:
            await message.answer(_("You are not an administrator of any clinic."))
            return
        await message.answer(_("Which clinic's templates?"), reply_markup=clinics_keyboard(clinics))

    @router.callback_query(TplCallback.filter(F.action == TplAction.CLINIC))
    async def clinic_chosen(query: CallbackQuery, callback_data: TplCallback, state: FSMContext,
                            templates: TemplateAdminService) -> None:
        await state.clear()
        await query.answer()
        assert isinstance(query.message, Message)
        await show_list(query.message, templates, query.from_user.id, callback_data.clinic)

    @router.callback_query(TplCallback.filter(F.action == TplAction.OPEN))
    async def open_template(query: CallbackQuery, callback_data: TplCallback, templates: TemplateAdminService) -> None:
        view = await templates.view(query.from_user.id, callback_data.clinic, callback_data.code)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(render_view(view), reply_markup=view_keyboard(view))

    @router.callback_query(TplCallback.filter(F.action.in_(set(EDIT_STATES))))
    async def start_edit(query: CallbackQuery, callback_data: TplCallback, state: FSMContext,
                         templates: TemplateAdminService) -> None:
        view = await templates.view(query.from_user.id, callback_data.clinic, callback_data.code)
        await state.set_state(EDIT_STATES[callback_data.action])
        await state.update_data(tpl_clinic=view.clinic_id, tpl_code=view.code)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(edit_prompt(callback_data.action, view))

    @router.message(StateFilter(TplFlow.title, TplFlow.fields, TplFlow.text), magic(F.text & ~F.text.startswith("/")))
    async def edited(message: Message, state: FSMContext, templates: TemplateAdminService) -> None:
        assert message.from_user is not None and message.text is not None
        data = await state.get_data()
        clinic, code, current = int(data.get("tpl_clinic", 0)), str(data.get("tpl_code", "")), await state.get_state()
        # A refused edit keeps the conversation at this step (the error says what to fix).
        if current == TplFlow.title.state:
            view = await templates.edit(message.from_user.id, clinic, code, title=message.text)
        elif current == TplFlow.fields.state:
            view = await templates.edit(message.from_user.id, clinic, code, fields_text=message.text)
        else:
            view = await templates.edit(message.from_user.id, clinic, code, body=message.text)
        await state.clear()
        await message.answer(_("✅ Saved as the clinic's version. Documents started from now on use it; "
                               "drafts already started keep their own copy."))
        await message.answer(render_view(view), reply_markup=view_keyboard(view))

    @router.message(StateFilter(TplFlow.title, TplFlow.fields, TplFlow.text))
    async def not_text(message: Message) -> None:
        await message.answer(_("Send it as text, or /cancel."))

    @router.callback_query(TplCallback.filter(F.action == TplAction.RESET))
    async def reset(query: CallbackQuery, callback_data: TplCallback, state: FSMContext,
                    templates: TemplateAdminService) -> None:
        view = await templates.reset(query.from_user.id, callback_data.clinic, callback_data.code)
        await state.clear()
        await query.answer(_("The default template is back."))
        assert isinstance(query.message, Message)
        await query.message.answer(render_view(view), reply_markup=view_keyboard(view))

    return router
