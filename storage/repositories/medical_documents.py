"""Medical documents: drafts and signed versions, medical content encrypted on the way in.

Signing is a conditional UPDATE (``WHERE status = 'draft'``), so two racing signatures of one draft
end with exactly one; nothing here rewrites the content of a row that is no longer a draft.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import FieldCipher
from storage.models import MedicalDocument, canonical_json, utcnow
from storage.models.medical_document import DRAFT, SENT


@dataclass(frozen=True)
class DocumentRecord:
    """A stored document, decrypted."""

    id: int
    kind: str
    status: str
    version: int
    previous_id: int | None
    doctor_id: int
    clinic_id: int
    patient_id: int | None
    author: str
    step: str | None
    draft: dict[str, Any]
    content: bytes | None
    content_type: str | None
    content_sha256: str | None
    signature: str | None
    signer: str | None
    signer_key: str | None
    signed_at: datetime | None
    reject_reason: str | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SignedContent:
    content: bytes
    content_type: str
    content_sha256: str
    signature_b64: str
    signer: str
    signer_key: str
    signed_at: datetime


class MedicalDocumentRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    def _enc(self, column: str, value: str) -> str:
        return self._cipher.encrypt(value, f"medical_documents.{column}")

    def _dec(self, column: str, token: str) -> str:
        return self._cipher.decrypt(token, f"medical_documents.{column}")

    def _record(self, row: MedicalDocument) -> DocumentRecord:
        return DocumentRecord(
            id=row.id,
            kind=row.kind,
            status=row.status,
            version=row.version,
            previous_id=row.previous_id,
            doctor_id=row.doctor_id,
            clinic_id=row.clinic_id,
            patient_id=row.patient_id,
            author=row.author,
            step=row.step,
            draft=json.loads(self._dec("draft", row.draft)),
            content=None if row.content is None else base64.b64decode(self._dec("content", row.content)),
            content_type=row.content_type,
            content_sha256=row.content_sha256,
            signature=row.signature,
            signer=row.signer,
            signer_key=row.signer_key,
            signed_at=row.signed_at,
            reject_reason=None if row.reject_reason is None else self._dec("reject_reason", row.reject_reason),
            external_id=row.external_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def add(
        self,
        *,
        kind: str,
        doctor_id: int,
        clinic_id: int,
        patient_id: int | None,
        author: str,
        draft: dict[str, Any],
        step: str | None = None,
        previous_id: int | None = None,
        version: int = 1,
        submission_key: str | None = None,
    ) -> DocumentRecord | None:
        """A new draft; None if ``submission_key`` was already used (the submitter retried)."""
        row = MedicalDocument(
            kind=kind,
            status=DRAFT,
            version=version,
            previous_id=previous_id,
            doctor_id=doctor_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            author=author,
            step=step,
            draft=self._enc("draft", canonical_json(draft)),
            submission_key=submission_key,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return None
        return self._record(row)

    async def get(self, document_id: int) -> DocumentRecord | None:
        row = await self._session.get(MedicalDocument, document_id, populate_existing=True)
        return None if row is None else self._record(row)

    async def get_many(self, document_ids: Collection[int]) -> dict[int, DocumentRecord]:
        """The documents with these ids, by id, in one query (missing ids are left out)."""
        if not document_ids:
            return {}
        rows = await self._session.scalars(select(MedicalDocument).where(MedicalDocument.id.in_(document_ids)))
        return {row.id: self._record(row) for row in rows}

    async def by_submission_key(self, key: str) -> DocumentRecord | None:
        row = await self._session.scalar(select(MedicalDocument).where(MedicalDocument.submission_key == key))
        return None if row is None else self._record(row)

    async def update_draft(self, document_id: int, draft: dict[str, Any], step: str | None) -> bool:
        """Replace a draft's content; False if it is no longer a draft (signed rows never change)."""
        result = await self._session.execute(
            update(MedicalDocument)
            .where(MedicalDocument.id == document_id, MedicalDocument.status == DRAFT)
            .values(draft=self._enc("draft", canonical_json(draft)), step=step, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def mark_signed(self, document_id: int, signed: SignedContent, status: str, *, send: bool = True) -> bool:
        """Draft → signed with its exact bytes and signature; False if someone signed it first.

        ``send``: queue it for the clinic system in the same statement (an idempotency key is
        fixed now, so every retry of the delivery carries the same one)."""
        content = self._enc("content", base64.b64encode(signed.content).decode("ascii"))
        result = await self._session.execute(
            update(MedicalDocument)
            .where(MedicalDocument.id == document_id, MedicalDocument.status == DRAFT)
            .values(
                status=status,
                step=None,
                content=content,
                content_type=signed.content_type,
                content_sha256=signed.content_sha256,
                signature=signed.signature_b64,
                signer=signed.signer,
                signer_key=signed.signer_key,
                signed_at=signed.signed_at,
                updated_at=utcnow(),
                next_send_at=signed.signed_at if send else None,
                idempotency_key=uuid.uuid4().hex if send else None,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_status(
        self, document_id: int, status: str, *, expected: Sequence[str], reason: str | None = None,
        external_id: str | None = None,
    ) -> bool:
        """A status change from one of ``expected``; the content is never touched here."""
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if reason is not None:
            values["reject_reason"] = self._enc("reject_reason", reason)
        if external_id is not None:
            values["external_id"] = external_id
        result = await self._session.execute(
            update(MedicalDocument)
            .where(MedicalDocument.id == document_id, MedicalDocument.status.in_(list(expected)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def list_for_doctor(
        self, doctor_id: int, *, statuses: Sequence[str], kind: str | None = None, authors: Sequence[str] | None = None,
        limit: int = 20, newest_first: bool = False,
    ) -> list[DocumentRecord]:
        query = select(MedicalDocument).where(
            MedicalDocument.doctor_id == doctor_id, MedicalDocument.status.in_(list(statuses))
        )
        if kind is not None:
            query = query.where(MedicalDocument.kind == kind)
        if authors is not None:
            query = query.where(MedicalDocument.author.in_(list(authors)))
        order = MedicalDocument.id.desc() if newest_first else MedicalDocument.id
        rows = await self._session.scalars(query.order_by(order).limit(limit))
        return [self._record(r) for r in rows]


async def count_documents(session: AsyncSession, doctor_id: int, *, statuses: Sequence[str], authors: Sequence[str]) -> int:
    """How many of a doctor's documents are in ``statuses``: no decryption, so no cipher needed."""
    count = await session.scalar(
        select(func.count())
        .select_from(MedicalDocument)
        .where(
            MedicalDocument.doctor_id == doctor_id,
            MedicalDocument.status.in_(list(statuses)),
            MedicalDocument.author.in_(list(authors)),
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class Dispatch:
    """A signed document due for the clinic system (content decrypted: it is about to be sent)."""

    record: DocumentRecord
    idempotency_key: str
    attempts: int


class DispatchRepository:
    """The document outbox: claim due rows, record the outcome. Never touches the signed content."""

    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._documents = MedicalDocumentRepository(session, cipher)

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Dispatch]:
        """Due rows, each pushed ``lease`` into the future so no other worker takes it meanwhile
        (if this worker dies, the row is due again when the lease ends: delayed, never lost)."""
        query = (
            select(MedicalDocument.id, MedicalDocument.next_send_at)
            .where(MedicalDocument.next_send_at.is_not(None), MedicalDocument.next_send_at <= now)
            .order_by(MedicalDocument.next_send_at)
            .limit(limit)
        )
        claimed: list[Dispatch] = []
        for document_id, due in (await self._session.execute(query)).all():
            taken = await self._session.execute(
                update(MedicalDocument)
                .where(MedicalDocument.id == document_id, MedicalDocument.next_send_at == due)
                .values(next_send_at=now + lease, send_attempts=MedicalDocument.send_attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if not getattr(taken, "rowcount", 0):
                continue  # another worker claimed it first
            row = await self._session.get(MedicalDocument, document_id, populate_existing=True)
            assert row is not None and row.idempotency_key is not None
            claimed.append(Dispatch(self._documents._record(row), row.idempotency_key, row.send_attempts))
        return claimed

    async def retry_at(self, document_id: int, when: datetime, error: str) -> None:
        await self._session.execute(
            update(MedicalDocument)
            .where(MedicalDocument.id == document_id)
            .values(next_send_at=when, last_send_error=error[:200])
            .execution_options(synchronize_session=False)
        )

    async def sent(self, document_id: int, external_id: str, poll_at: datetime) -> None:
        """Accepted for processing: poll the clinic system's task at ``poll_at``."""
        await self._session.execute(
            update(MedicalDocument)
            .where(MedicalDocument.id == document_id)
            .values(status=SENT, external_id=external_id[:64], next_send_at=poll_at, last_send_error=None,
                    updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def finished(self, document_id: int, status: str, reason: str | None) -> None:
        """Accepted or rejected by the clinic system: off the outbox for good."""
        values: dict[str, Any] = {"status": status, "next_send_at": None, "updated_at": utcnow()}
        if reason is not None:
            values["reject_reason"] = self._documents._enc("reject_reason", reason)
        await self._session.execute(
            update(MedicalDocument)
            .where(MedicalDocument.id == document_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def clinic_doctor_ids(session: AsyncSession, clinic_id: int) -> list[int]:
    """Doctors holding the doctor role in a clinic (who a clinic's drafts can be queued for)."""
    from storage.models import ClinicRole
    from storage.models.clinic_role import Role

    rows = await session.scalars(
        select(ClinicRole.doctor_id).where(ClinicRole.clinic_id == clinic_id, ClinicRole.role == Role.DOCTOR)
    )
    return sorted(set(rows))
