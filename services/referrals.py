"""Referrals (form 057/у, приказ 519н): patient → kind → receiving organisation or service →
diagnosis (МКБ-10 code or words) → urgency → justification → signature. A FHIR ServiceRequest.

Drafts are stored and signed exactly like prescriptions (``services.medical_documents``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.fhir.resources import PRIORITIES, REFERRAL_KINDS, service_request
from services.identity.access import SecurityPolicy
from services.medical_documents import DocumentKindService, OpenDraft, SignOutcome
from services.prescriptions import FHIR_JSON, PrescriptionService
from services.reference.icd10 import Diagnosis, Icd10, default_icd10
from services.signing.documents import DocumentSigner
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models import canonical_json
from storage.models.medical_document import REFERRAL
from storage.repositories.medical_documents import DocumentRecord

STEPS = ("kind", "service", "diagnosis", "priority", "justification", "review")
MIN_TEXT, MAX_SERVICE, MAX_JUSTIFICATION = 3, 200, 1000


class UnknownDiagnosis(DomainError):
    def __init__(self, code: str) -> None:
        super().__init__(N_("There is no МКБ-10 code {code}. Check the code or describe the diagnosis in words."),
                         code=code)


class NoDiagnosisFound(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("No diagnosis with these words. Send the МКБ-10 code (e.g. J06.9) or other words."))


@dataclass(frozen=True)
class ReferralReview:
    document_id: int
    version: int
    patient: str
    kind: str
    service: str
    diagnosis: str
    diagnosis_name: str
    priority: str
    justification: str


class ReferralService(DocumentKindService):
    KIND = REFERRAL
    OPERATION = "referral"

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

    async def start(self, telegram_user_id: int, patient_id: int) -> int:
        scope = await self._core.scope(telegram_user_id, "referral_start")
        patient = await self._own_patient(scope, patient_id, "referral_start")
        return await self._start_draft(scope, patient, {}, "kind")

    async def open(self, telegram_user_id: int) -> list[OpenDraft]:
        """Unfinished referrals to continue (the receiving service as the title)."""
        drafts = await self._core.open_drafts(telegram_user_id, REFERRAL, "referral_open")
        return [OpenDraft(d.id, str(d.draft.get("service") or "") or None, d.step, d.version) for d in drafts]

    async def resume(self, telegram_user_id: int, document_id: int) -> str:
        """The step to continue a draft at (it survives restarts: the step is on the row)."""
        record = await self._edit_draft(telegram_user_id, document_id)
        await self._uow.commit()
        return record.step if record.step in STEPS else "kind"

    async def back(self, telegram_user_id: int, document_id: int) -> str:
        return await self._step_back(telegram_user_id, document_id, STEPS)

    async def set_kind(self, telegram_user_id: int, document_id: int, kind: str) -> None:
        if kind not in REFERRAL_KINDS:
            raise DomainError(N_("Choose the kind of referral with the buttons."))
        await self._update(telegram_user_id, document_id, {"kind": kind}, "service")

    async def set_service(self, telegram_user_id: int, document_id: int, text: str) -> None:
        value = " ".join(text.split())
        if not MIN_TEXT <= len(value) <= MAX_SERVICE:
            raise DomainError(N_("Name the organisation or service in {low}–{high} characters."),
                              low=MIN_TEXT, high=MAX_SERVICE)
        await self._update(telegram_user_id, document_id, {"service": value}, "diagnosis")

    def find_diagnoses(self, text: str) -> list[Diagnosis]:
        """A code → that diagnosis (or UnknownDiagnosis); words → the matching diagnoses."""
        if self._icd10.looks_like_code(text):
            found = self._icd10.get(text)
            if found is None:
                raise UnknownDiagnosis(text.strip().upper()[:10])
            return [found]
        matches = self._icd10.search(text)
        if not matches:
            raise NoDiagnosisFound()
        return matches

    async def set_diagnosis(self, telegram_user_id: int, document_id: int, code: str) -> Diagnosis:
        diagnosis = self._icd10.get(code)
        if diagnosis is None:
            raise UnknownDiagnosis(code[:10])
        await self._update(telegram_user_id, document_id, {"diagnosis": diagnosis.code}, "priority")
        return diagnosis

    async def set_priority(self, telegram_user_id: int, document_id: int, priority: str) -> None:
        if priority not in PRIORITIES:
            raise DomainError(N_("Choose the urgency with the buttons."))
        await self._update(telegram_user_id, document_id, {"priority": priority}, "justification")

    async def set_justification(self, telegram_user_id: int, document_id: int, text: str) -> None:
        value = " ".join(text.split())
        if not MIN_TEXT <= len(value) <= MAX_JUSTIFICATION:
            raise DomainError(N_("Write the justification in {low}–{high} characters."),
                              low=MIN_TEXT, high=MAX_JUSTIFICATION)
        await self._update(telegram_user_id, document_id, {"justification": value}, "review")

    async def review(self, telegram_user_id: int, document_id: int) -> ReferralReview:
        scope = await self._core.scope(telegram_user_id, "referral_view")
        record = await self._own_of_kind(scope, document_id, "referral_view")
        patient = await self._patient(record)
        await AuditService(self._uow).record(doctor_actor(scope.doctor_id), "referral_view", "medical_document",
                                             document_id)
        await self._uow.commit()
        draft = record.draft
        diagnosis = self._icd10.get(str(draft.get("diagnosis", "")))
        return ReferralReview(
            document_id=record.id,
            version=record.version,
            patient=PrescriptionService.mask(patient),
            kind=str(draft.get("kind", "")),
            service=str(draft.get("service", "")),
            diagnosis=diagnosis.code if diagnosis else "",
            diagnosis_name=diagnosis.name if diagnosis else "",
            priority=str(draft.get("priority", "")),
            justification=str(draft.get("justification", "")),
        )

    async def sign(self, telegram_user_id: int, document_id: int, pin: str) -> SignOutcome:
        return await self._sign(telegram_user_id, document_id, pin)

    def _check_complete(self, record: DocumentRecord) -> None:
        if any(k not in record.draft for k in ("kind", "service", "diagnosis", "priority", "justification")):
            raise DomainError(N_("The referral is not complete yet: finish the steps first."))

    async def _render(self, record: DocumentRecord, signed_at: datetime) -> tuple[bytes, str]:
        assert record.patient_id is not None
        diagnosis = self._icd10.get(str(record.draft["diagnosis"]))
        assert diagnosis is not None
        resource = service_request(
            document_id=record.id, version=record.version, previous_id=record.previous_id,
            doctor_id=record.doctor_id, patient_id=record.patient_id, draft=record.draft,
            diagnosis_name=diagnosis.name, authored=signed_at,
        )
        return canonical_json(resource).encode("utf-8"), FHIR_JSON
