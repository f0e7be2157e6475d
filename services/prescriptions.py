"""Electronic prescriptions (form 107-1/у): a draft built step by step, then signed.

The draft lives in the database (encrypted), so a restart, a PIN prompt or /cancel never loses
it; the conversation's state only remembers which draft and which step. Drugs of paper-only forms
(148-1/у-88, 107/у-НП) are refused electronically with the reason and a printable form instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.audit import AuditService, doctor_actor
from services.dosing import course_quantity, parse_days, parse_dose, parse_quantity, parse_times_per_day
from services.errors import N_, DomainError
from services.fhir.resources import ROUTES, medication_request
from services.identity.access import SecurityPolicy
from services.medical_documents import DocumentCore, DocumentKindService, SignOutcome
from services.patients import full_years, initials
from services.pdf import PdfSection, render_pdf
from services.reference.drugs import MAX_MATCHES, Drug, DrugReference, default_drugs
from services.signing.documents import DocumentSigner
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models import canonical_json
from storage.models.medical_document import BY_DOCTOR, DRAFT, PRESCRIPTION
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.medical_documents import DocumentRecord
from storage.repositories.patients import PatientRecord

# The conversation's steps in order; «Назад» goes one step up this list.
STEPS = ("drug", "dose", "frequency", "duration", "route", "quantity", "validity", "consent", "review")
FHIR_JSON = "application/fhir+json"
PDF = "application/pdf"
DEFAULT_ROUTE = {"доза": "inhalation", "ЕД": "sc"}


class NoDrugFound(DomainError):
    def __init__(self) -> None:
        super().__init__(
            N_("No drug by that name in the reference. Check the spelling or send the international name (МНН).")
        )


class TooManyDrugs(DomainError):
    def __init__(self, count: int) -> None:
        super().__init__(
            N_("{count} drugs match. Send more of the name, for example «амоксициллин» instead of «амок»."),
            count=count,
        )


class MissingConsent(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("An electronic prescription needs the patient's consent."))


@dataclass(frozen=True)
class PaperOnly:
    """The drug's form must be written on paper: why, and a printable form to fill in."""

    form: str
    reason: str | None
    pdf: bytes
    filename: str


@dataclass(frozen=True)
class Review:
    document_id: int
    version: int
    status: str
    patient: str  # masked: «Петрова А. В., 54»
    drug: str
    form: str
    dose: str
    unit: str
    times_per_day: int
    days: int
    route: str
    quantity: int
    validity_days: int
    consent: bool | None
    changed: frozenset[str]  # fields that differ from the previous version (a correction)


@dataclass(frozen=True)
class DraftSummary:
    document_id: int
    step: str | None
    drug: str | None
    author: str
    version: int


class PrescriptionService(DocumentKindService):
    KIND = PRESCRIPTION
    OPERATION = "prescription"

    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher,
        index: BlindIndex,
        signer: DocumentSigner,
        policy: SecurityPolicy | None = None,
        drugs: DrugReference | None = None,
    ) -> None:
        super().__init__(uow, cipher, index, signer, policy)
        self._drugs = drugs or default_drugs()

    @property
    def core(self) -> DocumentCore:
        return self._core

    @property
    def drugs(self) -> DrugReference:
        return self._drugs

    async def patient(self, patient_id: int) -> PatientRecord | None:
        return await self._patients.get(patient_id)

    async def patient_of(self, record: DocumentRecord) -> PatientRecord | None:
        return await self._patient(record)

    async def patients_of(self, records: Sequence[DocumentRecord]) -> dict[int, PatientRecord]:
        """The patients of these documents, by id, in one query."""
        return await self._patients.get_many({r.patient_id for r in records if r.patient_id is not None})

    def build_review(
        self, record: DocumentRecord, patient: PatientRecord | None, previous: DocumentRecord | None
    ) -> Review:
        return self._review(record, patient, previous)

    def check_complete(self, record: DocumentRecord) -> None:
        self._check_complete(record)

    async def render_fhir(self, record: DocumentRecord, signed_at: datetime) -> tuple[bytes, str]:
        return await self._render(record, signed_at)

    # --- starting and resuming ---------------------------------------------------------------------

    async def open(self, telegram_user_id: int) -> list[DraftSummary]:
        """Before the conversation: may this doctor prescribe? Their unfinished drafts, to resume."""
        scope = await self._core.scope(telegram_user_id, "prescription_open")
        drafts = await self._core.documents.list_for_doctor(
            scope.doctor_id, statuses=[DRAFT], kind=PRESCRIPTION, authors=[BY_DOCTOR]
        )
        await self._uow.commit()
        return [self._summary(d) for d in drafts]

    def _summary(self, record: DocumentRecord) -> DraftSummary:
        drug = self._drugs.get(str(record.draft.get("drug", "")))
        return DraftSummary(record.id, record.step, drug.title if drug else None, record.author, record.version)

    async def start(self, telegram_user_id: int, patient_id: int) -> int:
        """A new draft for one of the doctor's clinics' patients; another's is denied and audited."""
        scope = await self._core.scope(telegram_user_id, "prescription_start")
        patient = await self._own_patient(scope, patient_id, "prescription_start")
        return await self._start_draft(scope, patient, {}, "drug")

    async def resume(self, telegram_user_id: int, document_id: int) -> str:
        """The step to continue a draft at."""
        scope = await self._core.scope(telegram_user_id, "prescription_resume")
        record = await self._own_draft(scope, document_id, "prescription_resume")
        await self._uow.commit()
        return record.step or "drug"

    async def back(self, telegram_user_id: int, document_id: int) -> str:
        return await self._step_back(telegram_user_id, document_id, STEPS)

    # --- the steps ----------------------------------------------------------------------------------

    async def find_drugs(self, telegram_user_id: int, document_id: int, query: str) -> list[Drug]:
        await self._edit_draft(telegram_user_id, document_id)
        await self._uow.commit()
        found = self._drugs.search(query)
        if not found:
            raise NoDrugFound()
        if len(found) > MAX_MATCHES - 2:
            raise TooManyDrugs(len(found))
        return found

    async def choose_drug(self, telegram_user_id: int, document_id: int, code: str) -> Drug | PaperOnly:
        drug = self._drugs.get(code)
        if drug is None:
            raise NoDrugFound()
        rule = self._drugs.form_of(drug)
        if not rule.electronic:
            return await self._paper_form(telegram_user_id, document_id, drug)
        await self._update(telegram_user_id, document_id, {"drug": drug.code, "unit": drug.unit}, "dose")
        return drug

    async def set_dose(self, telegram_user_id: int, document_id: int, text: str) -> None:
        record = await self._peek(telegram_user_id, document_id)
        dose = parse_dose(text, str(record.draft.get("unit", "таблетка")))
        await self._update(telegram_user_id, document_id, {"dose": dose.amount}, "frequency")

    async def set_frequency(self, telegram_user_id: int, document_id: int, text: str) -> None:
        times = parse_times_per_day(text)
        await self._update(telegram_user_id, document_id, {"times_per_day": times}, "duration")

    async def set_duration(self, telegram_user_id: int, document_id: int, text: str) -> None:
        record = await self._peek(telegram_user_id, document_id)
        rule = self._drugs.form_of(self._drug_of(record))
        days = parse_days(text, rule.max_course_days)
        await self._update(telegram_user_id, document_id, {"days": days}, "route")

    async def set_route(self, telegram_user_id: int, document_id: int, route: str) -> None:
        if route not in ROUTES:
            raise DomainError(N_("Choose the route with the buttons."))
        await self._update(telegram_user_id, document_id, {"route": route}, "quantity")

    async def suggested_quantity(self, telegram_user_id: int, document_id: int) -> tuple[int, str]:
        record = await self._peek(telegram_user_id, document_id)
        draft = record.draft
        quantity = course_quantity(Decimal(str(draft["dose"])), int(draft["times_per_day"]), int(draft["days"]))
        return quantity, str(draft["unit"])

    def default_route(self, unit: str) -> str:
        return DEFAULT_ROUTE.get(unit, "oral")

    async def set_quantity(self, telegram_user_id: int, document_id: int, text: str) -> None:
        record = await self._peek(telegram_user_id, document_id)
        rule = self._drugs.form_of(self._drug_of(record))
        quantity = parse_quantity(text, rule.max_quantity)
        await self._update(telegram_user_id, document_id, {"quantity": quantity}, "validity")

    async def validity_choices(self, telegram_user_id: int, document_id: int) -> tuple[int, ...]:
        record = await self._peek(telegram_user_id, document_id)
        return self._drugs.form_of(self._drug_of(record)).validity_days

    async def set_validity(self, telegram_user_id: int, document_id: int, days: int) -> None:
        if days not in await self.validity_choices(telegram_user_id, document_id):
            raise DomainError(N_("Choose the validity with the buttons."))
        await self._update(telegram_user_id, document_id, {"validity_days": days}, "consent")

    async def set_consent(self, telegram_user_id: int, document_id: int, consent: bool) -> PaperOnly | None:
        """Consent given: on to the review. Refused: no electronic prescription, a paper form instead."""
        if not consent:
            record = await self._peek(telegram_user_id, document_id)
            return await self._paper_form(telegram_user_id, document_id, self._drug_of(record), record.draft)
        await self._update(telegram_user_id, document_id, {"consent": True}, "review")
        return None

    # --- review, sign, correct ----------------------------------------------------------------------

    async def review(self, telegram_user_id: int, document_id: int) -> Review:
        scope = await self._core.scope(telegram_user_id, "prescription_view")
        record = await self._own_of_kind(scope, document_id, "prescription_view")
        previous = None
        if record.previous_id is not None:
            previous = await self._core.documents.get(record.previous_id)
        patient = await self._patient(record)
        await AuditService(self._uow).record(
            doctor_actor(scope.doctor_id), "prescription_view", "medical_document", document_id
        )
        await self._uow.commit()
        return self._review(record, patient, previous)

    def _review(self, record: DocumentRecord, patient: PatientRecord | None, previous: DocumentRecord | None) -> Review:
        draft = record.draft
        drug = self._drug_of(record)
        changed: set[str] = set()
        if previous is not None:
            changed = {k for k in set(draft) | set(previous.draft) if draft.get(k) != previous.draft.get(k)}
        return Review(
            document_id=record.id,
            version=record.version,
            status=record.status,
            patient=self.mask(patient),
            drug=drug.title,
            form=drug.prescription_form,
            dose=str(draft.get("dose", "")),
            unit=str(draft.get("unit", drug.unit)),
            times_per_day=int(draft.get("times_per_day", 0)),
            days=int(draft.get("days", 0)),
            route=str(draft.get("route", "oral")),
            quantity=int(draft.get("quantity", 0)),
            validity_days=int(draft.get("validity_days", 0)),
            consent=draft.get("consent"),
            changed=frozenset(changed),
        )

    @staticmethod
    def mask(patient: PatientRecord | None) -> str:
        if patient is None:
            return "—"
        name = f"{patient.last_name} {initials(patient.first_name, patient.middle_name)}".strip()
        if patient.birth_date is None:
            return name
        return f"{name}, {full_years(patient.birth_date, datetime.now(UTC).date())}"

    async def sign(self, telegram_user_id: int, document_id: int, pin: str) -> SignOutcome:
        return await self._sign(telegram_user_id, document_id, pin)

    def _check_complete(self, record: DocumentRecord) -> None:
        needed = ("drug", "dose", "times_per_day", "days", "route", "quantity", "validity_days")
        if any(k not in record.draft for k in needed):
            raise DomainError(N_("The prescription is not complete yet: finish the steps first."))
        if record.draft.get("consent") is not True:
            raise MissingConsent()
        if not self._drugs.form_of(self._drug_of(record)).electronic:
            raise DomainError(N_("This drug is prescribed on paper only."))

    async def _render(self, record: DocumentRecord, signed_at: datetime) -> tuple[bytes, str]:
        clinic = await ClinicRepository(self._uow.session).get(record.clinic_id)
        assert clinic is not None and record.patient_id is not None
        drug = self._drug_of(record)
        resource = medication_request(
            document_id=record.id,
            version=record.version,
            previous_id=record.previous_id,
            doctor_id=record.doctor_id,
            patient_id=record.patient_id,
            draft=record.draft,
            drug_title=drug.title,
            prescription_form=drug.prescription_form,
            authored=signed_at,
            start=signed_at.astimezone(ZoneInfo(clinic.timezone)).date(),
        )
        return canonical_json(resource).encode("utf-8"), FHIR_JSON

    # --- helpers ------------------------------------------------------------------------------------

    async def _peek(self, telegram_user_id: int, document_id: int) -> DocumentRecord:
        record = await self._edit_draft(telegram_user_id, document_id)
        # The idle anchor moved: commit, so no write transaction stays open while the handler
        # writes the conversation state through another connection.
        await self._uow.commit()
        return record

    def _drug_of(self, record: DocumentRecord) -> Drug:
        drug = self._drugs.get(str(record.draft.get("drug", "")))
        if drug is None:
            raise DomainError(N_("Choose the drug first."))
        return drug

    async def _paper_form(
        self, telegram_user_id: int, document_id: int, drug: Drug, draft: dict[str, Any] | None = None
    ) -> PaperOnly:
        """A printable form with what is known filled in; the draft is closed (nothing is signed)."""
        scope = await self._core.scope(telegram_user_id, "prescription_paper")
        record = await self._own_draft(scope, document_id, "prescription_paper")
        patient = await self._patient(record)
        doctor = await DoctorRepository(self._uow.session).get(scope.doctor_id)
        clinic = await ClinicRepository(self._uow.session).get(record.clinic_id)
        assert clinic is not None and doctor is not None
        now = datetime.now(UTC)
        rule = self._drugs.form_of(drug)
        patient_line = "—"
        if patient is not None:
            born = f", {patient.birth_date.strftime('%d.%m.%Y')} г. р." if patient.birth_date else ""
            patient_line = f"{patient.last_name} {patient.first_name} {patient.middle_name or ''}".strip() + born
        lines = [f"Rp.: {drug.inn} — {drug.form}, {drug.strength}"]
        if draft and "dose" in draft and "times_per_day" in draft and "days" in draft:
            lines.append(f"D. S.: по {draft['dose']} {draft['unit']} {draft['times_per_day']} р/сут, {draft['days']} дн.")
        else:
            lines.append("D. S.: ____________________________________________")
        pdf = render_pdf(
            f"Рецептурный бланк {drug.prescription_form if not rule.electronic else '107-1/у'}",
            clinic.name,
            [
                PdfSection("Пациент", [patient_line]),
                PdfSection("Врач", [f"{doctor.last_name} {doctor.first_name} {doctor.middle_name or ''}".strip()]),
                PdfSection("Назначение", lines),
            ],
            "Оформляется на бумажном бланке: подпись врача и печать медицинской организации.",
            now,
        )
        await self._core.documents.set_status(document_id, "discarded", expected=[DRAFT])
        await AuditService(self._uow).record(
            doctor_actor(scope.doctor_id), "prescription_paper", "medical_document", document_id, form=rule.code
        )
        await self._uow.commit()
        return PaperOnly(rule.code, rule.reason, pdf, f"prescription-{document_id}.pdf")
