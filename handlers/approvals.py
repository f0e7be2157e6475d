"""/queue: drafts prepared by a nurse or the clinic system, approved with the PIN or rejected.

«Подписать все» signs exactly the drafts the doctor was shown (their ids are kept in the state),
never one that arrived after the list was drawn. The queue count is a morning-brief line with a
button into the list; a new draft arrives as a notification.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.filters import magic
from handlers.menu import back_to_menu_button
from handlers.notifications import register_brief_line, register_kind
from handlers.pin_signing import PIN_LIKE
from handlers.prescriptions import render_review
from services.approvals import QUEUE_KIND, ApprovalService, QueueItem, register_brief_section
from storage.models.medical_document import BY_NURSE


class QueueAction(StrEnum):
    LIST = "list"
    OPEN = "open"
    APPROVE = "approve"
    APPROVE_ALL = "all"
    REJECT = "reject"


class QueueCallback(CallbackData, prefix="q"):
    action: QueueAction
    doc: int = 0


class QueueFlow(StatesGroup):
    pin = State()
    reason = State()
    done = State()


def _author(author: str) -> str:
    return _("nurse") if author == BY_NURSE else _("clinic system")


def render_queue(items: list[QueueItem]) -> tuple[str, InlineKeyboardMarkup]:
    if not items:
        return _("No drafts are waiting for your signature."), InlineKeyboardMarkup(
            inline_keyboard=[[back_to_menu_button()]]
        )
    lines = [_("<b>Waiting for your signature</b>: {count}").format(count=len(items)), ""]
    rows: list[list[InlineKeyboardButton]] = []
    for item in items:
        review = item.review
        changed = " ✏️" if review.changed else ""
        lines.append(
            _("№ {number} — {patient} — {drug}, {dose} {unit} × {times}/day, {days} days ({author}){changed}").format(
                number=review.document_id, patient=escape(review.patient), drug=escape(review.drug),
                dose=review.dose, unit=escape(review.unit), times=review.times_per_day, days=review.days,
                author=_author(item.author), changed=changed,
            )
        )
        rows.append([InlineKeyboardButton(text=_("Open № {number}").format(number=review.document_id),
                                          callback_data=QueueCallback(action=QueueAction.OPEN,
                                                                      doc=review.document_id).pack())])
    rows.append([InlineKeyboardButton(text=_("✅ Sign all shown ({count})").format(count=len(items)),
                                      callback_data=QueueCallback(action=QueueAction.APPROVE_ALL).pack())])
    rows.append([back_to_menu_button()])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def card_keyboard(doc: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("✅ Sign"), callback_data=QueueCallback(action=QueueAction.APPROVE,
                                                                                    doc=doc).pack()),
                InlineKeyboardButton(text=_("❌ Reject"), callback_data=QueueCallback(action=QueueAction.REJECT,
                                                                                      doc=doc).pack()),
            ],
            [InlineKeyboardButton(text=_("« To the list"), callback_data=QueueCallback(action=QueueAction.LIST).pack())],
        ]
    )


# --- notifications and the morning brief ----------------------------------------------------------


def _brief_line(params: dict[str, Any], locale: str) -> str | None:
    count = int(params.get("count", 0))
    return _("• Drafts waiting for your signature: {count}").format(count=count) if count else None


def _brief_button(params: dict[str, Any]) -> InlineKeyboardButton | None:
    return InlineKeyboardButton(text=_("📝 Drafts to sign"), callback_data=QueueCallback(action=QueueAction.LIST).pack())


def _render_arrival(payload: dict[str, Any], locale: str) -> str:
    return _("📝 A new prescription draft № {number} ({author}) is waiting for your signature: /queue").format(
        number=int(payload.get("document_id", 0)), author=_author(str(payload.get("author")))
    )


def register() -> None:
    register_brief_section()
    register_brief_line("approvals", _brief_line, _brief_button)
    register_kind(QUEUE_KIND, _render_arrival)


def get_router() -> Router:
    register()
    router = Router(name="approvals")

    async def show_list(message: Message, state: FSMContext, approvals: ApprovalService, tg: int) -> None:
        items = await approvals.queue(tg)
        await state.clear()
        await state.update_data(queue=[item.review.document_id for item in items])
        text, keyboard = render_queue(items)
        await message.answer(text, reply_markup=keyboard, protect_content=True)

    @router.message(Command("queue"))
    async def queue_command(message: Message, state: FSMContext, approvals: ApprovalService) -> None:
        assert message.from_user is not None
        await show_list(message, state, approvals, message.from_user.id)

    @router.callback_query(QueueCallback.filter(F.action == QueueAction.LIST))
    async def queue_button(query: CallbackQuery, state: FSMContext, approvals: ApprovalService) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        await show_list(query.message, state, approvals, query.from_user.id)

    @router.callback_query(QueueCallback.filter(F.action == QueueAction.OPEN))
    async def open_card(query: CallbackQuery, callback_data: QueueCallback, approvals: ApprovalService) -> None:
        review = await approvals.card(query.from_user.id, callback_data.doc)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(render_review(review), reply_markup=card_keyboard(review.document_id),
                                   protect_content=True)

    @router.callback_query(QueueCallback.filter(F.action.in_({QueueAction.APPROVE, QueueAction.APPROVE_ALL})))
    async def approve(
        query: CallbackQuery, callback_data: QueueCallback, state: FSMContext, approvals: ApprovalService
    ) -> None:
        if callback_data.action == QueueAction.APPROVE:
            # Checked now, so a forged button is refused (and audited) before any PIN is asked.
            await approvals.card(query.from_user.id, callback_data.doc)
            ids = [callback_data.doc]
        else:
            ids = [int(i) for i in (await state.get_data()).get("queue", [])]
            if not ids:
                await query.answer(_("Open the list first: /queue"), show_alert=True)
                return
        await state.set_state(QueueFlow.pin)
        await state.update_data(sign=ids)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(
            _("Enter your PIN to sign {count} prescription(s). The message is deleted at once.").format(count=len(ids))
        )

    @router.message(StateFilter(QueueFlow.done), magic(F.text.regexp(PIN_LIKE)))
    async def pin_again(message: Message) -> None:
        with contextlib.suppress(TelegramAPIError):
            await message.delete()
        await message.answer(_("These drafts are already signed."))

    @router.message(StateFilter(QueueFlow.pin), magic(F.text & ~F.text.startswith("/")))
    async def pin(message: Message, state: FSMContext, approvals: ApprovalService) -> None:
        assert message.from_user is not None and message.text is not None
        with contextlib.suppress(TelegramAPIError):
            await message.delete()
        ids = [int(i) for i in (await state.get_data()).get("sign", [])]
        signed, repeated = await approvals.approve(message.from_user.id, ids, message.text)
        await state.set_state(QueueFlow.done)
        text = _("✅ Signed: {signed}.").format(signed=signed)
        if repeated:
            text += " " + _("Already signed before: {count}.").format(count=repeated)
        await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=_("📝 Drafts to sign"), callback_data=QueueCallback(action=QueueAction.LIST).pack())],
            [back_to_menu_button()],
        ]))

    @router.callback_query(QueueCallback.filter(F.action == QueueAction.REJECT))
    async def reject(
        query: CallbackQuery, callback_data: QueueCallback, state: FSMContext, approvals: ApprovalService
    ) -> None:
        await approvals.card(query.from_user.id, callback_data.doc)
        await state.set_state(QueueFlow.reason)
        await state.update_data(reject=callback_data.doc)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(_("Why is the draft rejected? The preparer will see your answer. /cancel to keep it."))

    @router.message(StateFilter(QueueFlow.reason), magic(F.text & ~F.text.startswith("/")))
    async def reason(message: Message, state: FSMContext, approvals: ApprovalService) -> None:
        assert message.from_user is not None and message.text is not None
        doc = int((await state.get_data()).get("reject", 0))
        await approvals.reject(message.from_user.id, doc, message.text)
        await state.clear()
        await message.answer(_("Draft № {number} is rejected; the reason is recorded.").format(number=doc))

    return router

