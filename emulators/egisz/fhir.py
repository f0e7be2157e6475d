"""The clinic system's FHIR R4 endpoint for signed documents (asynchronous, with idempotency).

``POST /fhir/{MedicationRequest|ServiceRequest|DocumentReference}`` with the resource as JSON and an
``Idempotency-Key`` header (and the API key, as for ФРМР):

* 202 + ``Location: /fhir/Task/{id}`` and the Task — accepted for processing;
* the same key and the same body again → the same 202 and Task (nothing stored twice);
  the same key with a different body → 422 ``OperationOutcome`` (``code: "conflict"``);
* a missing key → 400; a body that is not the named resource, or without ``subject`` → 422.

``GET /fhir/Task/{id}`` → the Task: ``requested`` until polled once, then ``completed`` (the
document is registered; ``output`` names it) or ``rejected`` with ``statusReason.text`` when a
rejection was planned (``POST /_emulator/fhir/reject {"reason": "…"}`` rejects the next submission).
Faults target the endpoint ``fhir`` (HTML 500, 503, slow → a client timeout).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

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


class FhirEndpoint:
    def __init__(self, emulator: EgiszEmulator) -> None:
        self.emu = emulator
        self.reset()

    def reset(self) -> None:
        self.by_key: dict[str, Submission] = {}
        self.by_task: dict[str, Submission] = {}
        self.planned_rejections: list[str] = []
        self._ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(FHIR_PATH + "/{type}", self.create, name="fhir"),
            web.get(FHIR_PATH + "/Task/{id}", self.task, name="fhir.task"),
        ]

    async def create(self, request: web.Request) -> web.Response:
        refused = self.emu.lookup.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        resource_type = request.match_info["type"]
        if resource_type not in RESOURCE_TYPES:
            return outcome(404, "not-supported", f"resource type {resource_type} is not accepted here")
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
            resource = await request.json()
        except ValueError:
            return outcome(400, "structure", "body is not JSON")
        if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
            return outcome(422, "invalid", f"body is not a {resource_type}")
        if not isinstance(resource.get("subject"), dict) or not resource["subject"].get("reference"):
            return outcome(422, "required", "subject is required")
        number = next(self._ids)
        submission = Submission(
            task_id=f"task-{number}",
            resource_type=resource_type,
            resource_id=f"{resource_type[:2].lower()}-{number}",
            body_hash=body_hash,
            resource=resource,
            signature=request.headers.get("X-Signature"),
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
            return outcome(404, "not-found", "no such Task")
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
