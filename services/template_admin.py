"""The clinic administrator's templates of medical documents: list, view, edit, reset to default.

An administrator of a clinic (role ``admin`` in that clinic) edits the clinic's own version of a
template; the shipped default stays untouched and «reset» simply deletes the clinic's version.
Every read and change is audited, a clinic the administrator does not administer is denied and
audited. Nothing here touches patients or documents: the administrator never sees patient data.

Drafts are safe by copying: a document draft holds its own copy of the template's title, fields
and text from the moment it is started (``ClinicalDocumentService.start``), so an edit or a reset
changes only documents started afterwards.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from html import escape
from typing import Any

from services.audit import AuditService, doctor_actor
from services.clinical_documents import default_templates
from services.errors import N_, DomainError
from services.identity.access import AccessDenied, AccessService
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.document_templates import DocumentTemplateRepository

MAX_TITLE = 120
MAX_FIELDS = 15
MAX_LABEL = 150
MAX_BODY = 3000
MAX_ANSWER = 2000
FIELD_KINDS = ("text", "icd10")
BUILT_IN = ("patient", "clinic")  # filled by the bot, not asked
KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")


class TemplateInvalid(DomainError):
    """A template edit that cannot be saved; the message says what to fix."""


class TemplateNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("There is no such template."))


@dataclass(frozen=True)
class AdminClinic:
    clinic_id: int
    name: str


@dataclass(frozen=True)
class TemplateLine:
    code: str
    title: str
    custom: bool


@dataclass(frozen=True)
class TemplateView:
    clinic_id: int
    code: str
    title: str
    fields: list[dict[str, Any]]
    body: str
    custom: bool


def check_title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise TemplateInvalid(N_("The title is empty. Send the title as text."))
    if len(title) > MAX_TITLE:
        raise TemplateInvalid(N_("The title is too long: at most {limit} characters."), limit=MAX_TITLE)
    return title


def parse_fields(text: str) -> list[dict[str, Any]]:
    """One field per line: ``key | question | kind | max length`` (kind and length may be left out)."""
    fields: list[dict[str, Any]] = []
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise TemplateInvalid(N_("Send at least one field."))
    if len(lines) > MAX_FIELDS:
        raise TemplateInvalid(N_("Too many fields: at most {limit}."), limit=MAX_FIELDS)
    for number, line in enumerate(lines, start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or len(parts) > 4:
            raise TemplateInvalid(N_("Line {line}: write it as «key | question | text or icd10 | max length»."),
                                  line=number)
        key, label = parts[0], " ".join(parts[1].split())
        kind = parts[2].lower() if len(parts) > 2 and parts[2] else "text"
        if not KEY.fullmatch(key):
            raise TemplateInvalid(N_("Line {line}: the key is written in small Latin letters, digits and «_», "
                                     "starting with a letter (up to 32 characters), e.g. purpose."), line=number)
        if key in BUILT_IN:
            raise TemplateInvalid(N_("Line {line}: «{key}» is filled in by the bot itself; choose another key."),
                                  line=number, key=key)
        if not label or len(label) > MAX_LABEL:
            raise TemplateInvalid(N_("Line {line}: the question must be 1 to {limit} characters."),
                                  line=number, limit=MAX_LABEL)
        if kind not in FIELD_KINDS:
            raise TemplateInvalid(N_("Line {line}: the kind is «text» or «icd10»."), line=number)
        limit = 10 if kind == "icd10" else MAX_ANSWER
        if len(parts) > 3 and parts[3]:
            if not parts[3].isdigit() or not 1 <= int(parts[3]) <= MAX_ANSWER:
                raise TemplateInvalid(N_("Line {line}: the length is a number from 1 to {limit}."),
                                      line=number, limit=MAX_ANSWER)
            limit = min(int(parts[3]), limit)
        if any(f["key"] == key for f in fields):
            raise TemplateInvalid(N_("The key «{key}» is used twice: keys must be unique."), key=key)
        fields.append({"key": key, "label": label, "kind": kind, "max": limit})
    return fields


def placeholders(body: str) -> list[str]:
    """The ``{name}`` placeholders of a text; anything else in braces is refused."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError:
        raise TemplateInvalid(N_("A brace is not closed. Placeholders are written like {{purpose}}.")) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not KEY.fullmatch(name) or spec or conversion:
            raise TemplateInvalid(N_("«{{{name}}}» is not a placeholder: write a field key in braces, "
                                     "like {{purpose}}."), name=escape(name[:40]))
        names.append(name)
    return names


def check_template(title: str, fields: list[dict[str, Any]], body: str) -> None:
    """A whole template: every placeholder names a field (or patient/clinic); sizes within limits."""
    check_title(title)
    text = body.strip()
    if not text:
        raise TemplateInvalid(N_("The text is empty. Send the text of the document."))
    if len(text) > MAX_BODY:
        raise TemplateInvalid(N_("The text is too long: at most {limit} characters."), limit=MAX_BODY)
    keys = [str(f["key"]) for f in fields]
    used = placeholders(text)
    unknown = sorted({n for n in used if n not in keys and n not in BUILT_IN})
    if unknown:
        raise TemplateInvalid(N_("The text uses placeholders that are not fields: {names}. Add these fields "
                                 "or correct the text."), names=", ".join("{" + n + "}" for n in unknown))
    # A field the text does not use yet is allowed: an edit changes one part at a time (add the
    # field, then the text that uses it); it is asked but not printed until the text uses it.


def fields_as_text(fields: list[dict[str, Any]]) -> str:
    return "\n".join(f"{f['key']} | {f['label']} | {f.get('kind', 'text')} | {f.get('max', MAX_ANSWER)}"
                     for f in fields)


class TemplateAdminService:
    def __init__(self, uow: UnitOfWork, access: AccessService) -> None:
        self._uow = uow
        self._access = access

    @property
    def _repo(self) -> DocumentTemplateRepository:
        return DocumentTemplateRepository(self._uow.session)

    async def clinics(self, telegram_user_id: int) -> list[AdminClinic]:
        """The clinics this person administers (a non-administrator is denied and audited)."""
        context = await self._access.require(telegram_user_id, Role.ADMIN, "templates")
        result = []
        for grant in await ClinicRoleRepository(self._uow.session).roles_of(context.doctor_id):
            if grant.role == Role.ADMIN and (clinic := await ClinicRepository(self._uow.session).get(grant.clinic_id)):
                result.append(AdminClinic(clinic.id, clinic.short_name))
        await self._uow.commit()
        return result

    async def _admin_of(self, telegram_user_id: int, clinic_id: int, operation: str) -> int:
        context = await self._access.require(telegram_user_id, Role.ADMIN, operation)
        grants = await ClinicRoleRepository(self._uow.session).roles_of(context.doctor_id)
        if not any(g.role == Role.ADMIN and g.clinic_id == clinic_id for g in grants):
            await AuditService(self._uow).record(doctor_actor(context.doctor_id), operation, "clinic", clinic_id,
                                                 "denied")
            await self._uow.commit()
            raise AccessDenied()
        if not await self._repo.has_defaults():
            await self._repo.add_defaults(default_templates())
        return context.doctor_id

    async def list(self, telegram_user_id: int, clinic_id: int) -> list[TemplateLine]:
        await self._admin_of(telegram_user_id, clinic_id, "templates")
        rows = await self._repo.for_clinic(clinic_id)
        await self._uow.commit()
        return [TemplateLine(r.code, r.title, r.clinic_id is not None) for r in rows]

    async def view(self, telegram_user_id: int, clinic_id: int, code: str) -> TemplateView:
        admin = await self._admin_of(telegram_user_id, clinic_id, "template_view")
        view = await self._current(clinic_id, code)
        await AuditService(self._uow).record(doctor_actor(admin), "template_view", "document_template",
                                             f"{clinic_id}:{code}")
        await self._uow.commit()
        return view

    async def _current(self, clinic_id: int, code: str) -> TemplateView:
        for row in await self._repo.for_clinic(clinic_id):
            if row.code == code:
                return TemplateView(clinic_id, row.code, row.title, list(row.fields), row.body, row.clinic_id is not None)
        raise TemplateNotFound()

    async def edit(
        self, telegram_user_id: int, clinic_id: int, code: str, *, title: str | None = None,
        fields_text: str | None = None, body: str | None = None,
    ) -> TemplateView:
        """One part changed, the whole template checked, saved as the clinic's version (audited)."""
        admin = await self._admin_of(telegram_user_id, clinic_id, "template_save")
        current = await self._current(clinic_id, code)
        new_title = check_title(title) if title is not None else current.title
        new_fields = parse_fields(fields_text) if fields_text is not None else current.fields
        new_body = body.strip() if body is not None else current.body
        check_template(new_title, new_fields, new_body)
        row = await self._repo.save_for_clinic(clinic_id, code, new_title, new_fields, new_body)
        part = "title" if title is not None else "fields" if fields_text is not None else "text"
        await AuditService(self._uow).record(doctor_actor(admin), "template_save", "document_template", row.id,
                                             part=part)
        await self._uow.commit()
        return TemplateView(clinic_id, code, new_title, new_fields, new_body, True)

    async def reset(self, telegram_user_id: int, clinic_id: int, code: str) -> TemplateView:
        """Back to the shipped default: the clinic's version is deleted (drafts keep their copies)."""
        admin = await self._admin_of(telegram_user_id, clinic_id, "template_reset")
        removed = await self._repo.delete_for_clinic(clinic_id, code)
        if removed is not None:
            await AuditService(self._uow).record(doctor_actor(admin), "template_reset", "document_template", removed)
        view = await self._current(clinic_id, code)
        await self._uow.commit()
        return view
