"""The browser side of sign-in with Gosuslugi: our start endpoint, ESIA's callback, the result page.

The page says plainly what happened and leads back to the bot; the chat gets the same news (and,
on success, the consent request). Neither shows a token, a code or a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape
from urllib.parse import urlencode

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.identity import CALLBACK_PATH, LOGGED_OUT_PATH, START_PATH, Identity
from bot.keys import Crypto
from handlers.auth import consent_keyboard, consent_text, login_keyboard
from handlers.formatting import format_params
from handlers.menu import main_menu_keyboard
from services.identity.errors import PROBLEM_MESSAGES, SignInFailed, SignInProblem
from services.identity.linking import LinkOutcome, LinkService
from services.preferences import PreferencesService
from services.uow import UnitOfWork

logger = logging.getLogger(__name__)

# Problems after which a fresh sign-in button helps at once.
_RETRY = {SignInProblem.CANCELLED, SignInProblem.LINK_EXPIRED, SignInProblem.UNAVAILABLE, SignInProblem.INVALID_RESPONSE}

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef2f7;margin:0;
display:flex;min-height:100vh;align-items:center;justify-content:center;color:#1b2733}}
main{{background:#fff;border-radius:16px;box-shadow:0 4px 24px rgba(0,0,0,.08);padding:32px;max-width:440px;margin:16px}}
h1{{font-size:22px;margin:0 0 12px}} p{{line-height:1.5}}
a.button{{display:inline-block;background:#0d4cd3;color:#fff;padding:12px 20px;border-radius:10px;
text-decoration:none;margin-top:12px}} .ok{{color:#1a7f37}} .fail{{color:#b42318}}
</style></head>
<body><main data-testid="result" data-outcome="{outcome}">
<h1 class="{css}">{title}</h1><p>{text}</p>
<a class="button" data-testid="back" href="{back}">{back_label}</a>
</main></body></html>"""


class AuthPages:
    def __init__(
        self,
        *,
        identity: Identity,
        session_maker: async_sessionmaker[AsyncSession],
        crypto: Crypto,
        i18n: I18n,
        bot: Bot,
        back_url: Callable[[], str],
    ) -> None:
        self._identity = identity
        self._session_maker = session_maker
        self._crypto = crypto
        self._i18n = i18n
        self._bot = bot
        self._back_url = back_url

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(START_PATH, self.start),
            web.get(CALLBACK_PATH, self.callback),
            web.get(LOGGED_OUT_PATH, self.logged_out),
        ]

    def _service(self, uow: UnitOfWork) -> LinkService:
        identity = self._identity
        return LinkService(
            uow, identity.esia, identity.register, self._crypto.cipher, self._crypto.index, identity.link_policy
        )

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self._session_maker)

    def _page(self, locale: str, ok: bool, title: str, text: str, status: int = 200) -> web.Response:
        gettext = self._i18n.gettext
        body = _PAGE.format(
            lang=locale,
            title=escape(title),
            text=escape(text),
            css="ok" if ok else "fail",
            outcome="ok" if ok else "fail",
            back=escape(self._back_url(), quote=True),
            back_label=escape(gettext("Back to the bot", locale=locale)),
        )
        return web.Response(text=body, content_type="text/html", status=status, headers={"Cache-Control": "no-store"})

    def _problem_text(self, problem: SignInProblem, locale: str, **params: object) -> str:
        with self._i18n.context(), self._i18n.use_locale(locale):
            return self._i18n.gettext(PROBLEM_MESSAGES[problem], locale=locale).format(**format_params(params, locale))

    async def start(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("t", "")
        locale = self._i18n.default_locale
        async with self._uow() as uow:
            try:
                url = await self._service(uow).begin(token) if token else None
            except SignInFailed as exc:
                text = self._problem_text(exc.problem, locale, **exc.params)
                return self._page(locale, False, self._i18n.gettext("Sign-in failed", locale=locale), text, 410)
            except Exception:
                logger.exception("could not start the ESIA sign-in")
                text = self._problem_text(SignInProblem.UNAVAILABLE, locale)
                return self._page(locale, False, self._i18n.gettext("Sign-in failed", locale=locale), text, 503)
        if url is None:
            text = self._problem_text(SignInProblem.LINK_EXPIRED, locale)
            return self._page(locale, False, self._i18n.gettext("Sign-in failed", locale=locale), text, 400)
        raise web.HTTPFound(url)

    async def callback(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        async with self._uow() as uow:
            try:
                outcome = await self._service(uow).complete(
                    q.get("state"), q.get("code"), q.get("error"), q.get("error_description")
                )
            except Exception:
                logger.exception("ESIA callback failed")
                outcome = LinkOutcome(None, None, problem=SignInProblem.UNAVAILABLE)
            locale = self._i18n.default_locale
            if outcome.telegram_user_id is not None:
                locale = await PreferencesService(uow).language_of(outcome.telegram_user_id, locale)
            await self._tell_chat(uow, outcome, locale)
        gettext = self._i18n.gettext
        if outcome.problem is None and outcome.doctor is not None:
            text = gettext("Your account is linked. Go back to the bot to finish: accept the consent and set a PIN.", locale=locale)
            return self._page(locale, True, gettext("Signed in", locale=locale), text)
        assert outcome.problem is not None
        text = self._problem_text(outcome.problem, locale, **outcome.problem_params)
        return self._page(locale, False, gettext("Sign-in failed", locale=locale), text)

    async def logged_out(self, request: web.Request) -> web.StreamResponse:
        locale = self._i18n.default_locale
        gettext = self._i18n.gettext
        return self._page(
            locale, True, gettext("Signed out", locale=locale), gettext("You have signed out of Gosuslugi.", locale=locale)
        )

    async def _tell_chat(self, uow: UnitOfWork, outcome: LinkOutcome, locale: str) -> None:
        if outcome.chat_id is None or outcome.telegram_user_id is None:
            return
        i18n = self._i18n
        with i18n.context(), i18n.use_locale(locale):
            gettext = i18n.gettext
            try:
                if outcome.doctor is not None:
                    doctor = outcome.doctor
                    parts = [doctor.short_name, doctor.specialty or "", ", ".join(doctor.organizations)]
                    summary = ", ".join(escape(p) for p in parts if p)
                    text = gettext("✅ Account linked: {summary}").format(summary=summary)
                    if outcome.needs_consent:
                        await self._bot.send_message(outcome.chat_id, text + "\n\n" + consent_text(), reply_markup=consent_keyboard())
                    else:
                        await self._bot.send_message(outcome.chat_id, text, reply_markup=main_menu_keyboard())
                    return
                assert outcome.problem is not None
                text = "⚠️ " + escape(self._problem_text(outcome.problem, locale, **outcome.problem_params))
                markup: InlineKeyboardMarkup | None = None
                if outcome.problem in _RETRY and not outcome.problem_params:
                    try:
                        token = await self._service(uow).issue_link_token(outcome.telegram_user_id, outcome.chat_id)
                        markup = login_keyboard(f"{self._identity.links.start_url}?{urlencode({'t': token})}")
                    except SignInFailed:
                        markup = None
                await self._bot.send_message(outcome.chat_id, text, reply_markup=markup)
                if outcome.notify_holder_chat_id is not None:
                    await self._bot.send_message(
                        outcome.notify_holder_chat_id,
                        gettext(
                            "⚠️ Someone tried to link your Gosuslugi account to another Telegram account. "
                            "The attempt was refused. If it was not you, change your Gosuslugi password."
                        ),
                    )
            except TelegramAPIError as exc:
                logger.warning("could not tell the chat about the sign-in: %s", type(exc).__name__)

