"""Sign-in with Gosuslugi, consent, PIN, profile and sign-out, as the doctor sees them in the chat.

No password or code ever travels through the chat: the sign-in happens in the browser; the chat
only gets a one-time link and, afterwards, the result. PIN messages are deleted at once.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from urllib.parse import urlencode

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_datetime

from handlers.filters import magic
from handlers.formatting import format_moment
from handlers.menu import main_menu_keyboard
from handlers.render import edit_or_send
from services.identity.access import AccessService, PinLocked, PinWrong
from services.identity.linking import LinkService
from services.identity.pin import PinRejected, check_pin_policy, hash_pin, verify_pin
from services.identity.profile import Profile, ProfileService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthLinks:
    """Where the browser goes: our start endpoint, and ESIA's logout (filled in by ``bot``)."""

    start_url: str  # e.g. https://bot.example/auth/esia/start
    esia_logout_url: str | None = None


class ConsentAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


class ConsentCallback(CallbackData, prefix="consent"):
    action: ConsentAction


class ProfileAction(StrEnum):
    REFRESH = "refresh"


class ProfileCallback(CallbackData, prefix="profile"):
    action: ProfileAction


class PinSetup(StatesGroup):
    first = State()
    repeat = State()


class PinEntry(StatesGroup):
    waiting = State()


def login_keyboard(url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=_("🔐 Sign in with Gosuslugi"), url=url)]])


def login_text() -> str:
    return _(
        "<b>Sign in with Gosuslugi</b>\n\n"
        "The cabinet needs to know that you are a doctor: your identity is confirmed by Gosuslugi (ESIA), "
        "and your specialty and clinic by the Federal Register of Medical Workers.\n\n"
        "Press the button: the Gosuslugi page opens in the browser. Never type your Gosuslugi password "
        "into this chat. The link works once and for 10 minutes."
    )


def consent_text() -> str:
    return _(
        "<b>Consent to personal data processing</b>\n\n"
        "To work in the cabinet, the bot stores your name, specialty, positions and accreditation from "
        "the register, an encrypted link to your Gosuslugi account and a record of your actions "
        "(152-FZ «On personal data»). Patient data is shown only to you and is not kept in the chat.\n\n"
        "You can withdraw the consent at any time with /logout. If you decline, everything stored about "
        "you is deleted."
    )


def consent_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ I agree"), callback_data=ConsentCallback(action=ConsentAction.ACCEPT).pack()
                ),
                InlineKeyboardButton(
                    text=_("✖️ Decline"), callback_data=ConsentCallback(action=ConsentAction.DECLINE).pack()
                ),
            ]
        ]
    )


def pin_prompt() -> str:
    return _(
        "Come up with a PIN of 4–6 digits for sensitive actions (opening patient data, signing). "
        "Send it as a message — I will delete it at once."
    )


def render_profile(profile: Profile, locale: str) -> str:
    lines = [_("<b>Profile</b>"), "", escape(profile.full_name)]
    if profile.specialty:
        lines.append(escape(profile.specialty))
    if profile.positions:
        lines += ["", _("<b>Positions</b> (Federal Register of Medical Workers):")]
        lines += [f"• {escape(p.position)} — {escape(p.organization)}" for p in profile.positions]
    if profile.register_id:
        lines.append(_("Register entry: {register_id}").format(register_id=escape(profile.register_id)))
    if profile.accreditation_valid_until is not None:
        until = format_date(profile.accreditation_valid_until, format="long", locale=locale)
        lines += ["", _("<b>Accreditation</b>: {specialty}").format(specialty=escape(profile.accreditation_specialty or "—"))]
        if profile.accreditation_number:
            lines.append(_("Number: {number}").format(number=escape(profile.accreditation_number)))
        if profile.accreditation_expired:
            lines.append(_("⚠️ Expired on {date}").format(date=until))
        else:
            lines.append(_("Valid until {date}").format(date=until))
    if profile.certificates:
        lines += ["", _("<b>Specialist certificates</b>:")]
        for certificate in profile.certificates:
            lines.append(f"• {escape(certificate.specialty)}, № {escape(certificate.number)}")
            if certificate.valid_until is not None:
                until = format_date(certificate.valid_until, format="long", locale=locale)
                if certificate.expired:
                    lines.append("  " + _("expired on {date}").format(date=until))
                else:
                    lines.append("  " + _("valid until {date}").format(date=until))
    if profile.refreshed_at is not None:
        refreshed = format_datetime(profile.refreshed_at, format="short", locale=locale, tzinfo=None)
        lines += ["", _("Updated from Gosuslugi and the register: {moment} (UTC)").format(moment=refreshed)]
    return "\n".join(lines)


def profile_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("🔄 Refresh from Gosuslugi"),
                    callback_data=ProfileCallback(action=ProfileAction.REFRESH).pack(),
                )
            ]
        ]
    )


async def send_login(message: Message, link_service: LinkService | None, auth_links: AuthLinks | None) -> None:
    """The explanation and the one-time «Войти через Госуслуги» button."""
    assert message.from_user is not None
    if link_service is None or auth_links is None:
        await message.answer(_("Sign-in with Gosuslugi is not configured on this server. Contact the administrator."))
        return
    token = await link_service.issue_link_token(message.from_user.id, message.chat.id)
    url = f"{auth_links.start_url}?{urlencode({'t': token})}"
    await message.answer(login_text(), reply_markup=login_keyboard(url))


async def _delete_quietly(message: Message) -> None:
    # The PIN must not stay in the chat; if Telegram refuses (too old), there is nothing more to do.
    with suppress(TelegramAPIError):
        await message.delete()


def get_router() -> Router:
    router = Router(name="auth")

    @router.message(Command("login"))
    async def login(message: Message, link_service: LinkService | None, auth_links: AuthLinks | None) -> None:
        await send_login(message, link_service, auth_links)

    @router.callback_query(ConsentCallback.filter())
    async def consent(query: CallbackQuery, callback_data: ConsentCallback, state: FSMContext, access: AccessService) -> None:
        accepted = await access.record_consent(query.from_user.id, callback_data.action is ConsentAction.ACCEPT)
        if accepted:
            # Keep what the message said (who was linked, the consent text) and add the answer.
            shown = query.message.html_text if isinstance(query.message, Message) else consent_text()
            await edit_or_send(query, shown + "\n\n" + _("✅ Consent given."), None)
            await query.answer()
            await state.set_state(PinSetup.first)
            if query.message is not None and query.bot is not None:
                await query.bot.send_message(query.message.chat.id, pin_prompt())
        else:
            await state.clear()
            await edit_or_send(
                query,
                _("Consent not given. Everything stored about you has been deleted. To use the cabinet, sign in again: /login"),
                None,
            )
            await query.answer()

    @router.message(Command("pin"))
    async def pin_command(message: Message, state: FSMContext, access: AccessService) -> None:
        assert message.from_user is not None
        await access.require_consented(message.from_user.id)
        await state.set_state(PinSetup.first)
        await message.answer(pin_prompt())

    @router.message(StateFilter(PinSetup.first), magic(F.text))
    async def pin_first(message: Message, state: FSMContext) -> None:
        await _delete_quietly(message)
        assert message.text is not None
        try:
            pin = check_pin_policy(message.text)
        except PinRejected as exc:
            await message.answer(_(exc.message_id))
            return
        # Only a slow hash of the first entry is kept between the two messages, never the PIN.
        await state.update_data(first_pin_hash=hash_pin(pin))
        await state.set_state(PinSetup.repeat)
        await message.answer(_("Send the same PIN once more to confirm it."))

    @router.message(StateFilter(PinSetup.repeat), magic(F.text))
    async def pin_repeat(message: Message, state: FSMContext, access: AccessService) -> None:
        await _delete_quietly(message)
        assert message.text is not None and message.from_user is not None
        data = await state.get_data()
        if not verify_pin(message.text.strip(), str(data.get("first_pin_hash", ""))):
            await state.set_state(PinSetup.first)
            await state.set_data({})
            await message.answer(_("The PINs do not match. Let's start again.") + "\n\n" + pin_prompt())
            return
        await access.set_pin(message.from_user.id, message.text)
        await state.clear()
        await message.answer(_("✅ PIN saved. The cabinet is ready."), reply_markup=main_menu_keyboard())

    @router.message(StateFilter(PinEntry.waiting), magic(F.text))
    async def pin_entry(message: Message, state: FSMContext, access: AccessService, locale: str) -> None:
        await _delete_quietly(message)
        assert message.text is not None and message.from_user is not None
        try:
            await access.verify_pin(message.from_user.id, message.text)
        except PinWrong as exc:
            await message.answer(_("Wrong PIN. Attempts left: {attempts_left}.").format(attempts_left=exc.attempts_left))
            return
        except PinLocked as exc:
            await state.clear()
            until = format_moment(exc.until, locale)
            await message.answer(_("Too many wrong PINs. PIN entry is locked until {until}.").format(until=until))
            return
        await state.clear()
        await message.answer(_("✅ PIN accepted. You can continue."), reply_markup=main_menu_keyboard())

    @router.message(StateFilter(PinSetup.first, PinSetup.repeat, PinEntry.waiting))
    async def pin_not_text(message: Message) -> None:
        await message.answer(_("Send the PIN as a message of digits, or /cancel."))

    @router.message(Command("profile"))
    async def profile(message: Message, profiles: ProfileService, locale: str) -> None:
        assert message.from_user is not None
        data = await profiles.profile(message.from_user.id)
        await message.answer(render_profile(data, locale), reply_markup=profile_keyboard())

    @router.callback_query(ProfileCallback.filter(F.action == ProfileAction.REFRESH))
    async def refresh_profile(query: CallbackQuery, profiles: ProfileService, locale: str) -> None:
        data = await profiles.refresh(query.from_user.id)
        await edit_or_send(query, render_profile(data, locale), profile_keyboard())
        await query.answer(_("Profile updated."))

    @router.message(Command("logout"))
    async def logout(
        message: Message, state: FSMContext, access: AccessService, auth_links: AuthLinks | None
    ) -> None:
        assert message.from_user is not None
        await state.clear()
        if not await access.logout(message.from_user.id):
            await message.answer(_("You are not signed in. To sign in: /login"))
            return
        markup = None
        if auth_links is not None and auth_links.esia_logout_url:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=_("Sign out of Gosuslugi too"), url=auth_links.esia_logout_url)]]
            )
        await message.answer(
            _("You have signed out: this Telegram account is no longer linked to the cabinet. To sign in again: /login"),
            reply_markup=markup,
        )

    return router
