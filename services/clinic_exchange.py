"""Delivering signed documents to the clinic system (FHIR R4 REST), through the document outbox.

A document is queued in the transaction that signs it (``next_send_at`` and a fixed idempotency
key on its row). Each tick claims due rows with a lease, POSTs a FHIR transaction ``Bundle`` to the
base URL — the signed resource and a ``Provenance`` carrying the detached signature
(``Provenance.signature``: type, when, who, sigFormat, data) — with the ``Idempotency-Key`` header,
and then polls the Task the system answers with. The signature covers the canonical JSON of the
resource as it sits in the bundle (sorted keys, no spaces, UTF-8), or the PDF bytes carried in a
DocumentReference; the bundle is byte-identical on every retry. An outage or a timeout
only moves ``next_send_at`` (exponential backoff, capped): delayed, never lost, and never duplicated,
since every retry carries the same key. Accepted or rejected, the doctor is told through the
notification outbox, in the same transaction as the status change.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinical_documents import ClinicalDocumentService
from services.fhir.api import FhirApi
from services.fhir.resources import provenance, transaction_bundle
from services.uow import UnitOfWork
from storage.crypto import FieldCipher
from storage.models import canonical_json
from storage.models.medical_document import ACCEPTED, DOCUMENT, REJECTED, SENT, SIGNED
from storage.repositories.medical_documents import Dispatch, DispatchRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository

logger = logging.getLogger(__name__)

STATUS_KIND = "document_status"
MAX_REASON = 200


@dataclass
class ExchangeReport:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)


class ClinicExchange:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        cipher: FieldCipher,
        http: aiohttp.ClientSession,
        base_url: str,
        api_key: str = "",
        *,
        timeout: float = 10.0,
        lease: timedelta = timedelta(minutes=2),
        poll_every: timedelta = timedelta(seconds=30),
        first_retry: timedelta = timedelta(seconds=30),
        max_retry: timedelta = timedelta(hours=1),
        batch: int = 20,
    ) -> None:
        self._session_maker = session_maker
        self._cipher = cipher
        self._fhir = FhirApi(http, base_url, api_key, timeout)
        self._lease = lease
        self._poll_every = poll_every
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._batch = batch

    async def tick(self, now: datetime | None = None) -> ExchangeReport:
        now = now or datetime.now(UTC)
        report = ExchangeReport()
        async with UnitOfWork(self._session_maker) as uow:
            claimed = await DispatchRepository(uow.session, self._cipher).claim_due(now, self._lease, self._batch)
            await uow.commit()
        for dispatch in claimed:
            async with UnitOfWork(self._session_maker) as uow:
                await self._one(uow, dispatch, now, report)
                await uow.commit()
        return report

    async def _one(self, uow: UnitOfWork, dispatch: Dispatch, now: datetime, report: ExchangeReport) -> None:
        record = dispatch.record
        repo = DispatchRepository(uow.session, self._cipher)
        try:
            if record.status == SIGNED:
                result = await self._submit(dispatch)
            elif record.status == SENT and record.external_id:
                result = await self._poll(record.external_id)
            else:
                await repo.finished(record.id, record.status, None)  # nothing left to deliver
                return
        except (aiohttp.ClientError, TimeoutError) as exc:
            result = ("retry", f"{type(exc).__name__}")
        kind, detail = result
        if kind == "task":
            await repo.sent(record.id, detail, now + self._poll_every)
            report.sent += 1
        elif kind == "pending":
            await repo.retry_at(record.id, now + self._poll_every, "processing")
        elif kind in (ACCEPTED, REJECTED):
            reason = detail[:MAX_REASON] if kind == REJECTED else None
            await repo.finished(record.id, kind, reason)
            await self._notify(uow, dispatch, kind)
            report.accepted += kind == ACCEPTED
            report.rejected += kind == REJECTED
        else:
            delay = min(self._first_retry * (2 ** max(dispatch.attempts - 1, 0)), self._max_retry)
            await repo.retry_at(record.id, now + delay, detail)
            report.retried += 1
            report.errors.append(detail)
            logger.warning("document %s not delivered (attempt %s): %s", record.id, dispatch.attempts, detail)

    @staticmethod
    def bundle(dispatch: Dispatch) -> dict[str, Any]:
        """The transaction Bundle for one signed document (deterministic: same input, same bytes)."""
        record = dispatch.record
        assert record.content is not None and record.signature is not None and record.signed_at is not None
        if record.kind == DOCUMENT:
            # The PDF travels inside a DocumentReference; the signature covers the PDF bytes.
            resource = ClinicalDocumentService.fhir(record)
            attachment = resource["content"][0]["attachment"]
            attachment.pop("url", None)
            attachment["data"] = base64.b64encode(record.content).decode("ascii")
            target_format = "application/pdf"
        else:
            resource = json.loads(record.content)  # canonical_json of it is exactly the signed bytes
            target_format = "application/fhir+json"
        resource_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'medcab:{dispatch.idempotency_key}:resource')}"
        provenance_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'medcab:{dispatch.idempotency_key}:provenance')}"
        signed_at = record.signed_at if record.signed_at.tzinfo else record.signed_at.replace(tzinfo=UTC)
        signed = provenance(
            target=resource_url, doctor_id=record.doctor_id, signed_at=signed_at,
            signature_b64=record.signature, target_format=target_format,
        )
        return transaction_bundle(
            resource=resource, resource_url=resource_url, provenance_resource=signed, provenance_url=provenance_url,
        )

    async def _submit(self, dispatch: Dispatch) -> tuple[str, str]:
        headers = self._fhir.headers(**{"Content-Type": "application/fhir+json", "Idempotency-Key": dispatch.idempotency_key})
        body = canonical_json(self.bundle(dispatch)).encode("utf-8")
        async with self._fhir.http.post(self._fhir.url(), data=body, headers=headers, timeout=self._fhir.timeout) as response:
            if response.status in (200, 201):
                return ACCEPTED, ""
            if response.status == 202:
                location = response.headers.get("Location", "")
                task_id = location.rstrip("/").rsplit("/", 1)[-1]
                return ("task", task_id) if task_id else ("retry", "202 without Location")
            if response.status in (400, 404, 409, 422):
                return REJECTED, await _diagnostics(response)
            return "retry", f"HTTP {response.status}"

    async def _poll(self, task_id: str) -> tuple[str, str]:
        url = self._fhir.url(f"/Task/{task_id}")
        async with self._fhir.http.get(url, headers=self._fhir.headers(), timeout=self._fhir.timeout) as response:
            if response.status != 200:
                return "retry", f"HTTP {response.status} polling the task"
            try:
                task = await response.json(content_type=None)
            except ValueError:
                return "retry", "malformed task (not JSON)"
        if not isinstance(task, dict):
            return "retry", "malformed task (not an object)"
        status = str(task.get("status", ""))
        if status == "completed":
            return ACCEPTED, ""
        if status in ("rejected", "failed", "cancelled"):
            return REJECTED, str((task.get("statusReason") or {}).get("text") or status)
        return "pending", status

    async def _notify(self, uow: UnitOfWork, dispatch: Dispatch, status: str) -> None:
        """Only the status travels: the reason stays encrypted on the document row (notifications are
        stored in clear) and is shown in «Мои документы»."""
        record = dispatch.record
        account = await TelegramAccountRepository(uow.session).get_by_doctor(record.doctor_id)
        if account is None:
            return
        payload: dict[str, Any] = {"document_id": record.id, "kind": record.kind, "status": status,
                                   "locale": account.locale}
        await OutboxRepository(uow.session).enqueue(
            account.chat_id, STATUS_KIND, f"{STATUS_KIND}:{record.id}:{status}", datetime.now(UTC),
            payload=payload, doctor_id=record.doctor_id,
        )


async def _diagnostics(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json(content_type=None)
        issues = body.get("issue") or []
        text = "; ".join(str(i.get("diagnostics") or i.get("code")) for i in issues if isinstance(i, dict))
        return text or f"HTTP {response.status}"
    except (ValueError, aiohttp.ContentTypeError, AttributeError):
        return f"HTTP {response.status}"
