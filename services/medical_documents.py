"""What every signed item shares: who may touch a document, signing, verification, versions.

Prescriptions, referrals and certificates are rows of one table; this module owns the rules that
do not depend on the kind: only the doctor it belongs to may see or sign it (anyone else is denied
and audited), a signature is over the exact stored bytes, a signed row is immutable and a
correction is a new version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.identity.access import AccessDenied, AccessService, DoctorContext, NotLinked, SecurityPolicy
from services.reference.drugs import default_drugs
from services.signing.documents import DocumentSigner, sha256_hex, verify_detached
from services.signing.errors import SignerUnavailable
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models.clinic_role import Role
from storage.models.medical_document import BY_DOCTOR, DRAFT, SIGNED
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.medical_documents import DocumentRecord, MedicalDocumentRepository, SignedContent
from storage.repositories.patients import PatientRecord, PatientRepository


class DocumentNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This document was not found among yours."))


class SigningServiceDown(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("The signing service is not answering. The draft is kept: try signing again later."))


class PatientNotYours(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This patient is not among your clinics' patients."))


class NotADraft(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This document is already signed and cannot be changed. Make a corrected version."))


class DraftClosed(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This draft was deleted or rejected: it can no longer be signed."))


@dataclass(frozen=True)
class Verification:
    document_id: int
    ok: bool
    reason: str  # "ok", "not signed", "content changed", "signature invalid"


@dataclass(frozen=True)
class SignOutcome:
    document_id: int
    signed_now: bool  # False: it was already signed (a repeated PIN or button), nothing new made


@dataclass(frozen=True)
class DoctorScope:
    context: DoctorContext
    clinic_ids: list[int]

    @property
    def doctor_id(self) -> int:
        return self.context.doctor_id


# (record, signed_at) → (bytes to sign, content type): each kind renders its own exact bytes.
Renderer = Callable[[DocumentRecord, datetime], Awaitable[tuple[bytes, str]]]


@dataclass(frozen=True)
class OpenDraft:
    """An unfinished draft the doctor can continue or delete (a title, no patient data)."""

    document_id: int
    title: str | None
    step: str | None
    version: int


class DocumentCore:
    def __init__(
        self, uow: UnitOfWork, cipher: FieldCipher, signer: DocumentSigner, policy: SecurityPolicy | None = None
    ) -> None:
        self.uow = uow
        self.cipher = cipher
        self.signer = signer
        self.access = AccessService(uow, policy, cipher)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    @property
    def documents(self) -> MedicalDocumentRepository:
        return MedicalDocumentRepository(self.uow.session, self.cipher)

    async def scope(self, telegram_user_id: int, operation: str, *, fresh: bool = True) -> DoctorScope:
        """The doctor and their clinics (doctor role); consent and, if ``fresh``, a recent PIN."""
        context = await self.access.context_of(telegram_user_id)
        if context is None:
            raise NotLinked()
        if not context.consented:
            raise DomainError(N_("First accept the consent to personal data processing: /login"))
        grants = await ClinicRoleRepository(self.uow.session).roles_of(context.doctor_id)
        clinic_ids = sorted({g.clinic_id for g in grants if g.role == Role.DOCTOR})
        if not clinic_ids:
            await AuditService(self.uow).record(
                doctor_actor(context.doctor_id), operation, "section", Role.DOCTOR.value, "denied"
            )
            await self.uow.commit()
            raise AccessDenied()
        if fresh:
            await self.access.require_fresh_session(context)
        return DoctorScope(context, clinic_ids)

    async def own(self, scope: DoctorScope, document_id: int, operation: str) -> DocumentRecord:
        """The document if it is this doctor's; a forged id is denied and audited."""
        record = await self.documents.get(document_id)
        if record is None or record.doctor_id != scope.doctor_id:
            await AuditService(self.uow).record(
                doctor_actor(scope.doctor_id), operation, "medical_document", document_id, "denied"
            )
            await self.uow.commit()
            raise DocumentNotFound()
        return record

    async def open_drafts(self, telegram_user_id: int, kind: str, operation: str) -> list[DocumentRecord]:
        """The doctor's own unfinished drafts of one kind (nurse or system drafts are in /queue)."""
        scope = await self.scope(telegram_user_id, operation)
        drafts = await self.documents.list_for_doctor(scope.doctor_id, statuses=[DRAFT], kind=kind,
                                                      authors=[BY_DOCTOR])
        await self.uow.commit()
        return drafts

    async def discard_draft(self, telegram_user_id: int, document_id: int, kind: str, operation: str) -> None:
        """«Удалить черновик»: the draft is marked discarded (kept for the audit trail), never a signed item."""
        scope = await self.scope(telegram_user_id, operation, fresh=False)
        record = await self.own(scope, document_id, operation)
        if record.kind != kind or record.status != DRAFT:
            raise NotADraft()
        if not await self.documents.set_status(document_id, "discarded", expected=[DRAFT]):
            raise NotADraft()
        await AuditService(self.uow).record(doctor_actor(scope.doctor_id), operation, "medical_document", document_id)
        await self.uow.commit()

    async def sign(
        self, scope: DoctorScope, record: DocumentRecord, render: Renderer, operation: str
    ) -> SignOutcome:
        """Render the exact bytes, sign them detached, store both; one signature however often called."""
        if record.status != DRAFT:
            if record.content is None:  # discarded or rejected, never signed
                raise DraftClosed()
            return SignOutcome(record.id, signed_now=False)
        signed_at = self.now()
        data, content_type = await render(record, signed_at)
        try:
            signature = await self.signer.sign(self.uow.session, scope.doctor_id, data)
        except SignerUnavailable:
            # Nothing is stored: the draft stays as it was and can be signed again later.
            await self.uow.rollback()
            raise SigningServiceDown() from None
        stored = await self.documents.mark_signed(
            record.id,
            SignedContent(
                content=data,
                content_type=content_type,
                content_sha256=sha256_hex(data),
                signature_b64=signature.value_b64,
                signer=signature.signer,
                signer_key=signature.public_key,
                signed_at=signed_at,
            ),
            SIGNED,
        )
        if not stored:
            # Another update signed it between our read and our write: theirs stands.
            await self.uow.rollback()
            return SignOutcome(record.id, signed_now=False)
        await AuditService(self.uow).record(
            doctor_actor(scope.doctor_id), operation, "medical_document", record.id, "ok", signer=signature.signer
        )
        return SignOutcome(record.id, signed_now=True)

    async def new_version(self, scope: DoctorScope, record: DocumentRecord, step: str | None) -> DocumentRecord:
        """A correction of a signed document: a new draft that references it; the old one stays."""
        if record.status == DRAFT:
            raise DomainError(N_("This is still a draft: change it directly."))
        created = await self.documents.add(
            kind=record.kind,
            doctor_id=record.doctor_id,
            clinic_id=record.clinic_id,
            patient_id=record.patient_id,
            author=BY_DOCTOR,
            draft=dict(record.draft),
            step=step,
            previous_id=record.id,
            version=record.version + 1,
        )
        assert created is not None
        await AuditService(self.uow).record(
            doctor_actor(scope.doctor_id), "document_correct", "medical_document", record.id, "ok", new=created.id
        )
        return created


class DocumentKindService:
    """One kind of document (prescription, referral, clinical document) built step by step by the doctor.

    The three services share everything around their own steps: the doctor's own patient, a new
    draft, the own draft, signing with the PIN and a correction. Audit operations are named
    ``{OPERATION}_start``, ``{OPERATION}_edit``, ``{OPERATION}_sign`` … after the kind.
    """

    KIND: ClassVar[str]
    OPERATION: ClassVar[str]

    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher,
        index: BlindIndex,
        signer: DocumentSigner,
        policy: SecurityPolicy | None = None,
    ) -> None:
        self._core = DocumentCore(uow, cipher, signer, policy)
        self._uow = uow
        self._cipher = cipher
        self._index = index

    @property
    def _patients(self) -> PatientRepository:
        return PatientRepository(self._uow.session, self._cipher, self._index)

    async def _patient(self, record: DocumentRecord) -> PatientRecord | None:
        if record.patient_id is None:
            return None
        return await self._patients.get(record.patient_id)

    async def _own_patient(self, scope: DoctorScope, patient_id: int, operation: str) -> PatientRecord:
        """A patient of the doctor's clinics; another's is denied and audited."""
        patient = await self._patients.get(patient_id)
        if patient is None or patient.clinic_id not in scope.clinic_ids:
            await AuditService(self._uow).record(
                doctor_actor(scope.doctor_id), operation, "patient", patient_id, "denied"
            )
            await self._uow.commit()
            raise PatientNotYours()
        return patient

    async def _start_draft(self, scope: DoctorScope, patient: PatientRecord, draft: dict[str, Any], step: str) -> int:
        record = await self._core.documents.add(
            kind=self.KIND, doctor_id=scope.doctor_id, clinic_id=patient.clinic_id, patient_id=patient.id,
            author=BY_DOCTOR, draft=draft, step=step,
        )
        assert record is not None
        await AuditService(self._uow).record(
            doctor_actor(scope.doctor_id), f"{self.OPERATION}_start", "medical_document", record.id
        )
        await self._uow.commit()
        return record.id

    async def _own_of_kind(self, scope: DoctorScope, document_id: int, operation: str) -> DocumentRecord:
        """The doctor's document of this kind (any status); another kind's id is refused."""
        record = await self._core.own(scope, document_id, operation)
        if record.kind != self.KIND:
            raise NotADraft()
        return record

    async def _own_draft(self, scope: DoctorScope, document_id: int, operation: str) -> DocumentRecord:
        record = await self._own_of_kind(scope, document_id, operation)
        if record.status != DRAFT:
            raise NotADraft()
        return record

    async def _edit_draft(self, telegram_user_id: int, document_id: int) -> DocumentRecord:
        operation = f"{self.OPERATION}_edit"
        scope = await self._core.scope(telegram_user_id, operation)
        return await self._own_draft(scope, document_id, operation)

    async def _update(self, telegram_user_id: int, document_id: int, changes: dict[str, Any], step: str) -> None:
        record = await self._edit_draft(telegram_user_id, document_id)
        if not await self._core.documents.update_draft(document_id, {**record.draft, **changes}, step):
            raise NotADraft()
        await self._uow.commit()

    async def _step_back(self, telegram_user_id: int, document_id: int, steps: tuple[str, ...]) -> str:
        """«Назад»: one step up the kind's list of steps (an unknown step goes to the first)."""
        record = await self._edit_draft(telegram_user_id, document_id)
        index = steps.index(record.step) if record.step in steps else 0
        step = steps[max(index - 1, 0)]
        if not await self._core.documents.update_draft(document_id, record.draft, step):
            raise NotADraft()
        await self._uow.commit()
        return step

    async def discard(self, telegram_user_id: int, document_id: int) -> None:
        await self._core.discard_draft(telegram_user_id, document_id, self.KIND, f"{self.OPERATION}_discard")

    def _check_complete(self, record: DocumentRecord) -> None:
        """Raise if the draft may not be signed yet (each kind knows its required fields)."""
        raise NotImplementedError

    async def _render(self, record: DocumentRecord, signed_at: datetime) -> tuple[bytes, str]:
        """The exact bytes to sign and their content type."""
        raise NotImplementedError

    async def _sign(self, telegram_user_id: int, document_id: int, pin: str) -> SignOutcome:
        """Check the PIN (wrong / locked raise, audited), then sign once; a repeat signs nothing."""
        operation = f"{self.OPERATION}_sign"
        await self._core.access.verify_pin(telegram_user_id, pin)
        scope = await self._core.scope(telegram_user_id, operation)
        record = await self._own_of_kind(scope, document_id, operation)
        if record.status == DRAFT:
            self._check_complete(record)
        outcome = await self._core.sign(scope, record, self._render, operation)
        await self._uow.commit()
        return outcome

    def _correction_step(self, record: DocumentRecord) -> str:
        """Where a correction opens: the review, with the signed version's answers."""
        return "review"

    async def correct(self, telegram_user_id: int, document_id: int) -> int:
        """A new version of a signed document, opened at the review; the signed one stays."""
        scope = await self._core.scope(telegram_user_id, "document_correct")
        record = await self._own_of_kind(scope, document_id, "document_correct")
        created = await self._core.new_version(scope, record, self._correction_step(record))
        await self._uow.commit()
        return created.id


def verify_record(record: DocumentRecord) -> Verification:
    """Is the stored content exactly what was signed? Checks the hash and the signature."""
    if record.content is None or record.signature is None or record.signer_key is None:
        return Verification(record.id, False, "not signed")
    if sha256_hex(record.content) != record.content_sha256:
        return Verification(record.id, False, "content changed")
    if not verify_detached(record.signer_key, record.content, record.signature):
        return Verification(record.id, False, "signature invalid")
    return Verification(record.id, True, "ok")


async def verify_document(uow: UnitOfWork, cipher: FieldCipher, document_id: int) -> Verification | None:
    """For ``python -m bot documents verify ID``: None if there is no such document."""
    record = await MedicalDocumentRepository(uow.session, cipher).get(document_id)
    return None if record is None else verify_record(record)


@dataclass(frozen=True)
class StatusLine:
    document_id: int
    kind: str
    version: int
    status: str
    title: str  # the drug, the referral's service or the document's title: no patient data
    reason: str | None


class DocumentStatusService:
    """«Мои документы»: the doctor's recent items and where each one is (no patient data shown)."""

    def __init__(self, core: DocumentCore) -> None:
        self._core = core

    async def recent(self, telegram_user_id: int, limit: int = 10) -> list[StatusLine]:
        scope = await self._core.scope(telegram_user_id, "documents_status", fresh=False)
        records = await self._core.documents.list_for_doctor(
            scope.doctor_id, statuses=["draft", "signed", "sent", "accepted", "rejected"], limit=limit,
            newest_first=True,
        )
        await self._core.uow.commit()
        drugs = default_drugs()
        lines = []
        for record in records:
            draft = record.draft
            if record.kind == "prescription":
                drug = drugs.get(str(draft.get("drug", "")))
                title = drug.title if drug else "—"
            elif record.kind == "referral":
                title = str(draft.get("service", "—"))
            else:
                title = str(draft.get("title", "—"))
            lines.append(StatusLine(record.id, record.kind, record.version, record.status, title, record.reject_reason))
        return lines
