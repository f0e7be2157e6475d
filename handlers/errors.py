"""One place where failures become replies.

A domain error carries its message id and is shown as is; anything unexpected becomes an apology
with a short error id, and the traceback goes to the log under the same id (never to the chat).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import ErrorEvent, Update
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.auth import PinEntry
from handlers.formatting import format_params
from services.errors import DomainError
from services.identity.access import PinRequired

logger = logging.getLogger(__name__)


async def _reply(update: Update, text: str) -> None:
    try:
        if update.callback_query is not None:
            # An answered alert, so the spinner stops and the message is read.
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
    except TelegramAPIError as exc:
        logger.warning("could not deliver an error reply: %s", type(exc).__name__)


def get_router() -> Router:
    router = Router(name="errors")

    @router.errors(ExceptionTypeFilter(DomainError), ~ExceptionTypeFilter(PinRequired))
    async def domain_error(event: ErrorEvent, i18n: I18n, **data: Any) -> None:
        exc = event.exception
        assert isinstance(exc, DomainError)
        locale = data.get("locale") or i18n.default_locale
        with i18n.context(), i18n.use_locale(locale):
            text = _(exc.message_id).format(**format_params(exc.params, locale))
        logger.info("domain error %s on update %s", type(exc).__name__, event.update.update_id)
        await _reply(event.update, text)

    @router.errors(ExceptionTypeFilter(PinRequired))
    async def pin_required(event: ErrorEvent, i18n: I18n, **data: Any) -> None:
        # Idle too long: the next text message is taken as the PIN (and deleted at once).
        state: FSMContext | None = data.get("state")
        if state is not None:
            await state.set_state(PinEntry.waiting)
        locale = data.get("locale") or i18n.default_locale
        with i18n.context(), i18n.use_locale(locale):
            text = _("For your patients' safety, enter your PIN to continue.")
        await _reply(event.update, text)

    @router.errors()
    async def unexpected_error(event: ErrorEvent, i18n: I18n, **data: Any) -> None:
        error_id = secrets.token_hex(4)
        # exc_info carries the traceback to the log; the chat only sees the id.
        logger.error(
            "unexpected error %s on update %s",
            error_id,
            event.update.update_id,
            exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
        )
        locale = data.get("locale") or i18n.default_locale
        with i18n.context(), i18n.use_locale(locale):
            text = _("Sorry, something went wrong. We are already looking into it. Error code: {error_id}").format(
                error_id=error_id
            )
        await _reply(event.update, text)

    return router
