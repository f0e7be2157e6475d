"""Medical documents from templates: справки, заключения, протоколы осмотра.

The doctor picks a template of the patient's clinic (the clinic's own version, else the shipped
default), answers one question per field, checks the text and signs with the PIN; the PDF (Cyrillic
font embedded) is what is signed and stored, and is sent to the doctor as a file. The template is
copied into the draft, so editing a template later never changes a document in progress.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.fhir.resources import document_reference
from services.identity.access import SecurityPolicy
from services.medical_documents import DocumentKindService, NotADraft, OpenDraft, SignOutcome
from services.pdf import PdfSection, render_pdf
from services.prescriptions import PDF
from services.reference.icd10 import Icd10, default_icd10
from services.signing.documents import DocumentSigner
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models.medical_document import DOCUMENT
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.document_templates import DocumentTemplateRepository
from storage.repositories.medical_documents import DocumentRecord


def default_templates() -> list[dict[str, Any]]:
    text = resources.files("services.reference").joinpath("data", "templates.json").read_text("utf-8")
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class TemplateChoice:
    template_id: int
    title: str


@dataclass(frozen=True)
class Question:
    index: int
    total: int
    label: str
    kind: str


@dataclass(frozen=True)
class Preview:
    document_id: int
    title: str
    text: str


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "—"


class ClinicalDocumentService(DocumentKindService):
    KIND = DOCUMENT
    OPERATION = "document"

    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher,
        index: BlindIndex,
        signer: DocumentSigner,
        policy: SecurityPolicy | None = None,
        icd10: Icd10 | None = None,
    ) -> None:
        super().__init__(uow, cipher, index, signer, policy)
        self._icd10 = icd10 or default_icd10()

    async def templates(self, telegram_user_id: int, patient_id: int) -> list[TemplateChoice]:
        scope = await self._core.scope(telegram_user_id, "document_templates")
        patient = await self._own_patient(scope, patient_id, "document_start")
        rows = await DocumentTemplateRepository(self._uow.session).for_clinic(patient.clinic_id, defaults=default_templates())
        await self._uow.commit()
        return [TemplateChoice(row.id, row.title) for row in rows]

    async def start(self, telegram_user_id: int, patient_id: int, template_id: int) -> int:
        scope = await self._core.scope(telegram_user_id, "document_start")
        patient = await self._own_patient(scope, patient_id, "document_start")
        template = await DocumentTemplateRepository(self._uow.session).get(template_id)
        if template is None or template.clinic_id not in (None, patient.clinic_id):
            raise DomainError(N_("This template is not available for the patient's clinic."))
        draft = {"code": template.code, "title": template.title, "fields": template.fields, "body": template.body,
                 "values": {}}
        return await self._start_draft(scope, patient, draft, "0")

    async def open(self, telegram_user_id: int) -> list[OpenDraft]:
        """Unfinished documents to continue (the template's title)."""
        drafts = await self._core.open_drafts(telegram_user_id, DOCUMENT, "document_open")
        return [OpenDraft(d.id, str(d.draft.get("title") or "") or None, d.step, d.version) for d in drafts]

    @staticmethod
    def _question(record: DocumentRecord) -> Question | None:
        fields = record.draft["fields"]
        index = int(record.step or 0)
        if index >= len(fields):
            return None
        field = fields[index]
        return Question(index, len(fields), str(field["label"]), str(field.get("kind", "text")))

    async def question(self, telegram_user_id: int, document_id: int) -> Question | None:
        """The field to fill next; None when every field is filled (time for the preview)."""
        record = await self._edit_draft(telegram_user_id, document_id)
        await self._uow.commit()
        return self._question(record)

    async def answer(self, telegram_user_id: int, document_id: int, text: str) -> Question | None:
        record = await self._edit_draft(telegram_user_id, document_id)
        question = self._question(record)
        if question is None:
            return None
        field = record.draft["fields"][question.index]
        value = " ".join(text.split()) if question.kind != "text" else text.strip()
        limit = int(field.get("max", 2000))
        if not value:
            raise DomainError(N_("Send the answer as text."))
        if len(value) > limit:
            raise DomainError(N_("Too long: at most {limit} characters."), limit=limit)
        if question.kind == "icd10":
            diagnosis = self._icd10.get(value)
            if diagnosis is None:
                raise DomainError(N_("There is no МКБ-10 code {code}. Check the code."), code=value[:10])
            value = f"{diagnosis.code} «{diagnosis.name}»"
        draft = dict(record.draft)
        draft["values"] = {**draft["values"], str(field["key"]): value}
        await self._core.documents.update_draft(document_id, draft, str(question.index + 1))
        following = self._question(await self._edit_draft(telegram_user_id, document_id))
        # Committed before returning: the handler's state write uses another connection.
        await self._uow.commit()
        return following

    async def back(self, telegram_user_id: int, document_id: int) -> Question | None:
        record = await self._edit_draft(telegram_user_id, document_id)
        step = max(int(record.step or 0) - 1, 0)
        if not await self._core.documents.update_draft(document_id, record.draft, str(step)):
            raise NotADraft()
        following = self._question(await self._edit_draft(telegram_user_id, document_id))
        await self._uow.commit()
        return following

    async def _text(self, record: DocumentRecord) -> tuple[str, str, str]:
        """(clinic name, doctor line, body text) with the patient's full name: the document is theirs."""
        patient = await self._patient(record)
        clinic = await ClinicRepository(self._uow.session).get(record.clinic_id)
        doctor = await DoctorRepository(self._uow.session).get(record.doctor_id)
        assert clinic is not None and doctor is not None
        name = "—"
        if patient is not None:
            name = " ".join(p for p in (patient.last_name, patient.first_name, patient.middle_name) if p)
            if patient.birth_date is not None:
                name += f", {patient.birth_date.strftime('%d.%m.%Y')} г. р."
        values = _Blank({**record.draft["values"], "patient": name, "clinic": clinic.name})
        try:
            body = str(record.draft["body"]).format_map(values)
        except (ValueError, IndexError, AttributeError):
            # A clinic's template with stray braces: show its text as written rather than fail.
            body = str(record.draft["body"])
        doctor_line = " ".join(p for p in (doctor.last_name, doctor.first_name, doctor.middle_name) if p)
        if doctor.specialty:
            doctor_line += f", {doctor.specialty}"
        return clinic.name, doctor_line, body

    async def preview(self, telegram_user_id: int, document_id: int) -> Preview:
        scope = await self._core.scope(telegram_user_id, "document_view")
        record = await self._core.own(scope, document_id, "document_view")
        _clinic, _doctor, body = await self._text(record)
        await AuditService(self._uow).record(doctor_actor(scope.doctor_id), "document_view", "medical_document",
                                             document_id)
        await self._uow.commit()
        return Preview(record.id, str(record.draft["title"]), body)

    async def sign(self, telegram_user_id: int, document_id: int, pin: str) -> tuple[SignOutcome, bytes, str]:
        """Sign the PDF with the PIN; returns the stored PDF and a file name to send it under."""
        outcome = await self._sign(telegram_user_id, document_id, pin)
        stored = await self._core.documents.get(document_id)
        assert stored is not None and stored.content is not None
        return outcome, stored.content, f"{stored.draft['code']}-{document_id}.pdf"

    def _check_complete(self, record: DocumentRecord) -> None:
        if self._question(record) is not None:
            raise DomainError(N_("The document is not complete yet: answer every question first."))

    def _correction_step(self, record: DocumentRecord) -> str:
        # A document has no "review" step: past the last field is its preview.
        return str(len(record.draft["fields"]))

    async def _render(self, record: DocumentRecord, signed_at: datetime) -> tuple[bytes, str]:
        clinic_name, doctor_line, body = await self._text(record)
        clinic = await ClinicRepository(self._uow.session).get(record.clinic_id)
        assert clinic is not None
        local = signed_at.astimezone(ZoneInfo(clinic.timezone))
        title = f"{str(record.draft['title']).upper()} № {record.id}"
        if record.version > 1:
            title += f" (версия {record.version}, заменяет № {record.previous_id})"
        pdf = render_pdf(
            title,
            clinic_name,
            [PdfSection(None, body.split("\n")), PdfSection("Врач", [doctor_line, local.strftime("%d.%m.%Y")])],
            "Электронный медицинский документ, подписан электронной подписью врача. "
            f"Проверка подписи: python -m bot documents verify {record.id}",
            signed_at,
        )
        return pdf, PDF

    @staticmethod
    def fhir(record: DocumentRecord) -> dict[str, Any]:
        assert record.content is not None and record.signed_at is not None and record.patient_id is not None
        return document_reference(
            document_id=record.id, version=record.version, previous_id=record.previous_id,
            doctor_id=record.doctor_id, patient_id=record.patient_id, title=str(record.draft["title"]),
            code=str(record.draft["code"]), created=record.signed_at,
            content_sha1_b64=base64.b64encode(hashlib.sha1(record.content, usedforsecurity=False).digest()).decode(),
            size=len(record.content),
        )


async def save_clinic_template(
    uow: UnitOfWork, clinic_id: int, code: str, title: str, fields: list[dict[str, Any]], body: str
) -> int:
    """A clinic's own version of a template (the clinic-editing entry point; checked, then stored)."""
    if not fields or any(not {"key", "label"} <= set(f) for f in fields):
        raise ValueError("every field needs a key and a label")
    keys = {str(f["key"]) for f in fields}
    try:
        body.format_map(_Blank({k: "" for k in keys} | {"patient": "", "clinic": ""}))
    except (ValueError, IndexError) as exc:
        raise ValueError(f"body is not a valid template: {exc}") from None
    row = await DocumentTemplateRepository(uow.session).save_for_clinic(clinic_id, code, title, fields, body)
    await AuditService(uow).record(f"clinic:{clinic_id}", "template_saved", "document_template", row.id)
    await uow.commit()
    return row.id
