"""The approval queue: prescription drafts prepared by a nurse or the clinic system, signed by the doctor.

``submit`` is the entry point for the preparers (idempotent by their key; the doctor is told in the
same transaction through the notification outbox). The doctor sees a compact list, opens a card
with the changes against the previous version highlighted, approves one or all shown with the
PIN, or rejects with a reason. Approving or rejecting another doctor's draft is denied and audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from services.audit import AuditService, doctor_actor
from services.dosing import parse_days, parse_dose, parse_quantity, parse_times_per_day
from services.errors import N_, DomainError
from services.fhir.resources import ROUTES
from services.medical_documents import NotADraft
from services.prescriptions import PrescriptionService, Review
from services.reminders import BRIEF_SECTIONS, BriefLine
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.models.medical_document import BY_NURSE, BY_SYSTEM, DRAFT, PRESCRIPTION, REJECTED
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.medical_documents import MedicalDocumentRepository, count_documents
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminder_targets import Target
from storage.repositories.telegram_accounts import TelegramAccountRepository

QUEUE_AUTHORS = (BY_NURSE, BY_SYSTEM)
QUEUE_KIND = "documents_queue"
MAX_REASON = 500
MAX_BATCH = 20


class InvalidSubmission(ValueError):
    """A preparer's draft that cannot be queued (for the submitting system, not for a chat)."""


@dataclass(frozen=True)
class QueueItem:
    review: Review
    author: str


@dataclass(frozen=True)
class Submitted:
    document_id: int
    created: bool  # False: the same submission key was seen before, nothing new queued


class ApprovalService:
    def __init__(self, prescriptions: PrescriptionService) -> None:
        self._rx = prescriptions
        self._core = prescriptions.core
        self._uow: UnitOfWork = prescriptions.core.uow

    # --- the preparers' side ------------------------------------------------------------------------

    async def submit(
        self,
        *,
        clinic_id: int,
        doctor_id: int,
        patient_id: int,
        author: str,
        draft: dict[str, Any],
        submission_key: str,
        previous_id: int | None = None,
    ) -> Submitted:
        """Queue a complete prescription draft for ``doctor_id``; a retried key returns the first one."""
        if author not in QUEUE_AUTHORS:
            raise InvalidSubmission("author must be 'nurse' or 'system'")
        if not submission_key or len(submission_key) > 100:
            raise InvalidSubmission("submission_key is required (at most 100 characters)")
        repo = MedicalDocumentRepository(self._uow.session, self._core.cipher)
        existing = await repo.by_submission_key(submission_key)
        if existing is not None:
            return Submitted(existing.id, created=False)
        clean = self._validate(draft)
        grants = await ClinicRoleRepository(self._uow.session).roles_of(doctor_id)
        if not any(g.clinic_id == clinic_id and g.role == Role.DOCTOR for g in grants):
            raise InvalidSubmission("the doctor does not work in this clinic")
        patient = await self._rx.patient(patient_id)
        if patient is None or patient.clinic_id != clinic_id:
            raise InvalidSubmission("the patient is not this clinic's")
        version = 1
        if previous_id is not None:
            previous = await repo.get(previous_id)
            if previous is None or previous.doctor_id != doctor_id or previous.patient_id != patient_id:
                raise InvalidSubmission("previous_id is not this doctor's document for this patient")
            version = previous.version + 1
        record = await repo.add(
            kind=PRESCRIPTION,
            doctor_id=doctor_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            author=author,
            draft=clean,
            step="review",
            previous_id=previous_id,
            version=version,
            submission_key=submission_key,
        )
        if record is None:  # a concurrent retry won the key
            again = await repo.by_submission_key(submission_key)
            assert again is not None
            return Submitted(again.id, created=False)
        account = await TelegramAccountRepository(self._uow.session).get_by_doctor(doctor_id)
        if account is not None:
            # In the same transaction: the doctor hears of the draft if and only if it was queued.
            await OutboxRepository(self._uow.session).enqueue(
                account.chat_id,
                QUEUE_KIND,
                f"{QUEUE_KIND}:{record.id}",
                datetime.now(UTC),
                payload={"document_id": record.id, "author": author, "locale": account.locale},
                doctor_id=doctor_id,
            )
        await AuditService(self._uow).record(
            f"{author}:clinic:{clinic_id}", "prescription_submit", "medical_document", record.id
        )
        await self._uow.commit()
        return Submitted(record.id, created=True)

    def _validate(self, draft: dict[str, Any]) -> dict[str, Any]:
        try:
            drug = self._rx.drugs.get(str(draft["drug"]))
            if drug is None:
                raise InvalidSubmission("unknown drug code")
            rule = self._rx.drugs.form_of(drug)
            if not rule.electronic:
                raise InvalidSubmission(f"drug of paper-only form {rule.code}")
            route = str(draft["route"])
            if route not in ROUTES:
                raise InvalidSubmission("unknown route")
            validity = int(draft["validity_days"])
            if validity not in rule.validity_days:
                raise InvalidSubmission("validity not allowed for the form")
            return {
                "drug": drug.code,
                "unit": drug.unit,
                "dose": parse_dose(str(draft["dose"]), drug.unit).amount,
                "times_per_day": parse_times_per_day(str(draft["times_per_day"])),
                "days": parse_days(str(draft["days"]), rule.max_course_days),
                "route": route,
                "quantity": parse_quantity(str(draft["quantity"]), rule.max_quantity),
                "validity_days": validity,
                "consent": bool(draft.get("consent", False)),
            }
        except KeyError as exc:
            raise InvalidSubmission(f"missing field {exc.args[0]}") from None
        except DomainError as exc:
            raise InvalidSubmission(exc.message_id.format(**exc.params)) from None

    # --- the doctor's side --------------------------------------------------------------------------

    async def queue(self, telegram_user_id: int) -> list[QueueItem]:
        scope = await self._core.scope(telegram_user_id, "approval_queue")
        drafts = await self._core.documents.list_for_doctor(
            scope.doctor_id, statuses=[DRAFT], kind=PRESCRIPTION, authors=QUEUE_AUTHORS, limit=MAX_BATCH
        )
        # The previous versions and the patients of the whole queue in two queries, not two per draft.
        previous = await self._core.documents.get_many({r.previous_id for r in drafts if r.previous_id})
        patients = await self._rx.patients_of(drafts)
        items = [
            QueueItem(
                self._rx.build_review(
                    record,
                    patients.get(record.patient_id) if record.patient_id else None,
                    previous.get(record.previous_id) if record.previous_id else None,
                ),
                record.author,
            )
            for record in drafts
        ]
        await AuditService(self._uow).record(
            doctor_actor(scope.doctor_id), "approval_queue", "medical_document", None, results=len(items)
        )
        await self._uow.commit()
        return items

    async def card(self, telegram_user_id: int, document_id: int) -> Review:
        """One queued draft, with the changes against its previous version; another's is denied."""
        scope = await self._core.scope(telegram_user_id, "approval_view")
        record = await self._core.own(scope, document_id, "approval_view")
        if record.kind != PRESCRIPTION or record.author not in QUEUE_AUTHORS:
            raise NotADraft()
        previous = await self._core.documents.get(record.previous_id) if record.previous_id else None
        review = self._rx.build_review(record, await self._rx.patient_of(record), previous)
        await AuditService(self._uow).record(
            doctor_actor(scope.doctor_id), "approval_view", "medical_document", document_id
        )
        await self._uow.commit()
        return review

    async def approve(self, telegram_user_id: int, document_ids: list[int], pin: str) -> tuple[int, int]:
        """Sign the given queued drafts with one PIN entry: (signed now, already signed before)."""
        await self._core.access.verify_pin(telegram_user_id, pin)
        scope = await self._core.scope(telegram_user_id, "approval_sign")
        signed = repeated = 0
        for document_id in document_ids[:MAX_BATCH]:
            record = await self._core.own(scope, document_id, "approval_sign")
            if record.kind != PRESCRIPTION or record.author not in QUEUE_AUTHORS:
                raise NotADraft()
            if record.status == DRAFT:
                self._rx.check_complete(record)
            outcome = await self._core.sign(scope, record, self._rx.render_fhir, "approval_sign")
            await self._uow.commit()
            signed += outcome.signed_now
            repeated += not outcome.signed_now
        return signed, repeated

    async def reject(self, telegram_user_id: int, document_id: int, reason: str) -> None:
        reason = " ".join(reason.split())
        if len(reason) < 3:
            raise DomainError(N_("Write the reason in a few words: the preparer will see it."))
        if len(reason) > MAX_REASON:
            raise DomainError(N_("The reason is too long: at most {limit} characters."), limit=MAX_REASON)
        scope = await self._core.scope(telegram_user_id, "approval_reject")
        record = await self._core.own(scope, document_id, "approval_reject")
        if record.kind != PRESCRIPTION or record.author not in QUEUE_AUTHORS or record.status != DRAFT:
            raise NotADraft()
        # Signed (or rejected) by another press between our read and this write: nothing changes.
        if not await self._core.documents.set_status(document_id, REJECTED, expected=[DRAFT], reason=reason):
            raise NotADraft()
        await AuditService(self._uow).record(
            doctor_actor(scope.doctor_id), "approval_reject", "medical_document", document_id
        )
        await self._uow.commit()


async def approvals_section(uow: UnitOfWork, target: Target, today: date) -> list[BriefLine]:
    """Morning brief: how many drafts wait for the doctor (a count only, no patient data)."""
    count = await count_documents(uow.session, target.doctor_id, statuses=[DRAFT], authors=QUEUE_AUTHORS)
    return [BriefLine("approvals", {"count": count})] if count else []


def register_brief_section() -> None:
    BRIEF_SECTIONS["approvals"] = approvals_section
