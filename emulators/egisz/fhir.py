"""The clinic system's FHIR R4 endpoint for signed documents (asynchronous, with idempotency).

``POST /fhir`` with a transaction ``Bundle`` and an ``Idempotency-Key`` header (and the API key, as
for ФРМР). The bundle holds exactly two ``POST`` entries: one MedicationRequest, ServiceRequest or
DocumentReference (with ``subject``), and a Provenance whose ``target`` is that entry's ``fullUrl``
and whose ``signature`` carries ``type``, ``when``, ``who``, ``sigFormat`` and base64 ``data`` (the
detached signature; the emulator checks its shape, not the cryptography):

* 202 + ``Location: /fhir/Task/{id}`` and the Task — accepted for processing;
* the same key and the same body again → the same 202 and Task (nothing stored twice);
  the same key with a different body → 422 ``OperationOutcome`` (``code: "conflict"``);
* a missing key → 400; a body that is not such a bundle → 422 with what is wrong in ``diagnostics``.

``GET /fhir/Task/{id}`` → the Task: ``requested`` until polled once, then ``completed`` (the
document is registered; ``output`` names it) or ``rejected`` with ``statusReason.text`` when a
rejection was planned (``POST /_emulator/fhir/reject {"reason": "…"}`` rejects the next submission).
Faults target the endpoint ``fhir`` (HTML 500, 503, slow → a client timeout), the change
requests' Task routes (``appointment_requests.py``) included.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .appointment_requests import AppointmentRequests
from .lookup import reply

if TYPE_CHECKING:
    from .server import EgiszEmulator

FHIR_PATH = "/fhir"
RESOURCE_TYPES = ("MedicationRequest", "ServiceRequest", "DocumentReference")


def outcome(status: int, code: str, text: str) -> web.Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return reply(body, status=status)


@dataclass
class Submission:
    task_id: str
    resource_type: str
    resource_id: str
    body_hash: str
    resource: dict[str, Any]
    signature: str | None
    bundle: dict[str, Any]
    provenance: dict[str, Any]
    reject_reason: str | None
    polls: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def task(self) -> dict[str, Any]:
        status = "requested"
        if self.polls > 0:
            status = "rejected" if self.reject_reason else "completed"
        task: dict[str, Any] = {
            "resourceType": "Task",
            "id": self.task_id,
            "status": status,
            "intent": "order",
            "focus": {"reference": f"{self.resource_type}/{self.resource_id}"},
        }
        if status == "rejected":
            task["statusReason"] = {"text": self.reject_reason}
        if status == "completed":
            task["output"] = [{"type": {"text": "registered"},
                               "valueReference": {"reference": f"{self.resource_type}/{self.resource_id}"}}]
        return task


def _signature_problem(signature: Any) -> str | None:
    if not isinstance(signature, dict):
        return "Provenance.signature entries must be objects"
    types = signature.get("type")
    if not isinstance(types, list) or not types or not all(isinstance(t, dict) and t.get("code") for t in types):
        return "Provenance.signature.type is required"
    if not isinstance(signature.get("when"), str) or "T" not in signature["when"]:
        return "Provenance.signature.when must be an instant"
    who = signature.get("who")
    if not isinstance(who, dict) or not who.get("reference"):
        return "Provenance.signature.who is required"
    if not signature.get("sigFormat"):
        return "Provenance.signature.sigFormat is required"
    try:
        data = base64.b64decode(str(signature.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        return "Provenance.signature.data is not base64"
    return None if data else "Provenance.signature.data is required"


def bundle_problem(bundle: Any) -> str | None:
    """What is wrong with a submitted transaction bundle, or None when its shape is right."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return "body is not a Bundle"
    if bundle.get("type") != "transaction":
        return "Bundle.type must be transaction"
    entries = bundle.get("entry")
    if not isinstance(entries, list) or len(entries) != 2 or not all(isinstance(e, dict) for e in entries):
        return "the bundle must hold the document and its Provenance"
    for entry in entries:
        resource, req = entry.get("resource"), entry.get("request")
        if not isinstance(resource, dict) or not isinstance(req, dict) or not str(entry.get("fullUrl", "")):
            return "every entry needs fullUrl, resource and request"
        if req.get("method") != "POST" or req.get("url") != resource.get("resourceType"):
            return "every entry must be a POST to its resource type"
    document, provenance = entries[0]["resource"], entries[1]["resource"]
    if document.get("resourceType") not in RESOURCE_TYPES:
        return f"resource type {document.get('resourceType')} is not accepted here"
    if not isinstance(document.get("subject"), dict) or not document["subject"].get("reference"):
        return "subject is required"
    if provenance.get("resourceType") != "Provenance":
        return "the second entry must be a Provenance"
    targets = provenance.get("target")
    if not isinstance(targets, list) or {"reference": entries[0]["fullUrl"]} not in targets:
        return "Provenance.target must name the document entry"
    if not isinstance(provenance.get("recorded"), str) or not provenance.get("agent"):
        return "Provenance.recorded and agent are required"
    signatures = provenance.get("signature")
    if not isinstance(signatures, list) or not signatures:
        return "Provenance.signature is required"
    for signature in signatures:
        if (problem := _signature_problem(signature)) is not None:
            return problem
    return None


class FhirEndpoint:
    def __init__(self, emulator: EgiszEmulator) -> None:
        self.emu = emulator
        self.requests = AppointmentRequests(self)
        self.reset()

    def reset(self) -> None:
        self.requests.reset()
        self.by_key: dict[str, Submission] = {}
        self.by_task: dict[str, Submission] = {}
        self.planned_rejections: list[str] = []
        self._ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(FHIR_PATH, self.create, name="fhir"),
            web.get(FHIR_PATH + "/Task/{id}", self.task, name="fhir.task"),
            *self.requests.routes(FHIR_PATH),
        ]

    async def create(self, request: web.Request) -> web.Response:
        refused = self.emu.lookup.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 128:
            return outcome(400, "required", "Idempotency-Key header is required")
        raw = await request.read()
        body_hash = hashlib.sha256(raw).hexdigest()
        seen = self.by_key.get(key)
        if seen is not None:
            if seen.body_hash != body_hash:
                return outcome(422, "conflict", "Idempotency-Key reused with a different body")
            return self._accepted(seen)
        try:
            bundle = await request.json()
        except ValueError:
            return outcome(400, "structure", "body is not JSON")
        problem = bundle_problem(bundle)
        if problem is not None:
            return outcome(422, "invalid", problem)
        resource, provenance = bundle["entry"][0]["resource"], bundle["entry"][1]["resource"]
        resource_type = str(resource["resourceType"])
        number = next(self._ids)
        submission = Submission(
            task_id=f"task-{number}",
            resource_type=resource_type,
            resource_id=f"{resource_type[:2].lower()}-{number}",
            body_hash=body_hash,
            resource=resource,
            signature=str(provenance["signature"][0]["data"]),
            bundle=bundle,
            provenance=provenance,
            reject_reason=self.planned_rejections.pop(0) if self.planned_rejections else None,
        )
        self.by_key[key] = submission
        self.by_task[submission.task_id] = submission
        return self._accepted(submission)

    @staticmethod
    def _accepted(submission: Submission) -> web.Response:
        return reply(submission.task(), status=202, headers={"Location": f"{FHIR_PATH}/Task/{submission.task_id}"})

    async def task(self, request: web.Request) -> web.Response:
        refused = self.emu.lookup.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        submission = self.by_task.get(request.match_info["id"])
        if submission is None:
            asked = self.requests.read(request.match_info["id"])
            return reply(asked) if asked is not None else outcome(404, "not-found", "no such Task")
        submission.polls += 1
        return reply(submission.task())

    # --- control -------------------------------------------------------------------------------

    async def control_reject(self, request: web.Request) -> web.Response:
        data = await request.json()
        self.planned_rejections.append(str(data.get("reason") or "rejected"))
        return reply({"ok": True})

    async def control_list(self, request: web.Request) -> web.Response:
        return reply({"ok": True, "result": [
            {"task": s.task_id, "type": s.resource_type, "id": s.resource_id, "status": s.task()["status"],
             "signed": s.signature is not None}
            for s in self.by_task.values()
        ]})
