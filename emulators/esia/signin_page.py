"""HTML pages a person sees at ESIA: the sign-in page with a persona picker, and error pages.

Self-contained (inline CSS, no scripts, no external resources) so it works offline and in a
headless browser; styled loosely after Gosuslugi so a tester recognises where they are.
"""

from __future__ import annotations

from html import escape

from .grants import AuthorizeRequest, Session
from .personas import Persona

SIGNIN_PATH = "/idp/signin"

SCOPE_TITLES = {
    "openid": "Идентификатор учётной записи",
    "fullname": "Фамилия, имя, отчество",
    "birthdate": "Дата рождения",
    "gender": "Пол",
    "snils": "СНИЛС",
    "inn": "ИНН",
    "id_doc": "Документ, удостоверяющий личность",
    "birthplace": "Место рождения",
    "email": "Адрес электронной почты",
    "mobile": "Номер мобильного телефона",
    "contacts": "Контактные данные",
    "addresses": "Адреса",
}

STYLE = """
body{margin:0;font-family:Lato,Arial,sans-serif;background:#f5f7fa;color:#0b1f33}
header{background:#fff;border-bottom:1px solid #e1e7f0;padding:16px 24px;display:flex;align-items:center;gap:12px}
.logo{font-weight:700;font-size:22px;color:#0d4cd3}.logo span{color:#ee3f58}
main{max-width:640px;margin:32px auto;background:#fff;border-radius:16px;padding:32px;
box-shadow:0 4px 24px rgba(11,31,51,.08)}
h1{font-size:24px;margin:0 0 8px}p.muted{color:#66727f;margin:0 0 20px}
ul.scopes{margin:0 0 24px;padding-left:20px;color:#3d4b5a}
.persona{display:flex;justify-content:space-between;align-items:center;width:100%;text-align:left;
border:1px solid #cdd4de;background:#fff;border-radius:8px;padding:12px 16px;margin:0 0 8px;
font:inherit;cursor:pointer}
.persona:hover{border-color:#0d4cd3;background:#f1f6ff}
.persona small{display:block;color:#66727f}.badge{font-size:12px;border-radius:4px;padding:2px 6px;
background:#e9f6ee;color:#1a7a3d;white-space:nowrap}.badge.p{background:#fff4e0;color:#a25b00}
.cancel{margin-top:16px;border:0;background:#e8eef7;color:#0d4cd3;border-radius:8px;padding:12px 24px;
font:inherit;cursor:pointer}
.error{border-left:4px solid #ee3f58;padding-left:16px}code{background:#f1f3f6;padding:2px 4px}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} — Госуслуги (эмулятор ЕСИА)</title><style>{STYLE}</style></head><body>"
        '<header><div class="logo">гос<span>услуги</span></div><div>Единая система идентификации и '
        "аутентификации — тестовый эмулятор</div></header>"
        f"<main>{body}</main></body></html>"
    )


def _persona_button(persona: Persona) -> str:
    badge_class = "badge" if persona.trusted else "badge p"
    details = persona.level_title
    if persona.snils:
        details += f" · СНИЛС {persona.snils}"
    if persona.note:
        details += f" · {persona.note}"
    return (
        f'<button class="persona" type="submit" name="persona" value="{escape(persona.key)}" '
        f'data-oid="{persona.oid}">'
        f"<span>{escape(persona.full_name)}<small>{escape(details)}</small></span>"
        f'<span class="{badge_class}">{"подтверждена" if persona.trusted else persona.level}</span></button>'
    )


def signin_page(request: AuthorizeRequest, personas: list[Persona], session: Session | None) -> str:
    scopes = "".join(f"<li>{escape(SCOPE_TITLES.get(s, s))}</li>" for s in request.scopes)
    current = ""
    if session is not None:
        current = (
            f'<p class="muted">Вы уже вошли как {escape(session.persona.full_name)}. '
            "Выберите эту или другую учётную запись.</p>"
        )
    buttons = "".join(_persona_button(p) for p in personas)
    body = (
        "<h1>Вход</h1>"
        f'<p class="muted">Система <b>{escape(request.client_id)}</b> запрашивает доступ к данным:</p>'
        f'<ul class="scopes">{scopes}</ul>{current}'
        f'<form method="post" action="{SIGNIN_PATH}">'
        f'<input type="hidden" name="rid" value="{escape(request.rid)}">'
        f"<p>Выберите учётную запись для входа:</p>{buttons}"
        '<button class="cancel" type="submit" name="action" value="cancel">Отмена</button>'
        "</form>"
    )
    return _page("Вход", body)


def error_page(code: str, title: str, description: str) -> str:
    body = (
        f'<div class="error"><h1>{escape(title)}</h1>'
        f"<p>{escape(description)}</p>"
        f"<p>Код ошибки: <code>ESIA-{escape(code)}</code></p></div>"
        '<p class="muted">Вернуться в систему, из которой выполнялся вход, не получится: '
        "адрес возврата не подтверждён. Обратитесь к администратору системы.</p>"
    )
    return _page(title, body)


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")
