"""The registry's and patients' requests to move or cancel an appointment, as the clinic system
holds them: FHIR R4 ``Task`` resources (``intent`` proposal; ``code`` change or abort from
http://hl7.org/fhir/CodeSystem/task-code; ``focus`` the appointment by the bot's identifier).

Public (the API key as for ФРМР):

* ``GET /fhir/Task?status=requested&intent=proposal[&_count=N]`` → a ``searchset`` Bundle of the
  matching request Tasks (oldest first); unknown search parameters → 400 OperationOutcome.
* ``GET /fhir/Task/{id}`` → the Task (with ``meta.versionId``).
* ``PUT /fhir/Task/{id}`` → the Task updated: only ``status``, ``statusReason``, ``output`` and
  ``lastModified`` may change (the rest as read, else 422); the status moves
  requested → received | rejected, received → completed | rejected | failed | cancelled (else
  409); ``rejected`` and ``failed`` need a ``statusReason``; a counter-proposal
  (``statusReason`` code ``counter-proposal``) needs an ``output`` ``valuePeriod`` that ends after
  it starts. An ``If-Match`` with a stale version → 412.

Control: ``POST /_emulator/fhir/appointment-requests`` ``{"appointment": 7, "kind": "move" | "cancel",
"start", "end", "requester": "registry" | "patient", "reason", "expires"}`` files one (as the
registry's desk or the patients' portal would) and answers its id; ``GET`` lists them all.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulators.common.server import PREFIX, ControlError, JsonObject, guarded, ok, read_json

from .lookup import reply

if TYPE_CHECKING:
    from .fhir import FhirEndpoint

TASK_CODES = "http://hl7.org/fhir/CodeSystem/task-code"
APPOINTMENT_SYSTEM = "urn:medcab:appointment"
REASON_SYSTEM = "urn:medcab:change-reason"
MOVES = {"requested": {"received", "rejected"}, "received": {"completed", "rejected", "failed", "cancelled"}}
CHANGEABLE = {"status", "statusReason", "output", "lastModified", "meta"}
SEARCH_PARAMETERS = {"status", "intent", "_count"}


def _outcome(status: int, code: str, text: str) -> web.Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return reply(body, status=status)


class AppointmentRequests:
    def __init__(self, fhir: FhirEndpoint) -> None:
        self.fhir = fhir
        self.reset()

    def reset(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def _now(self) -> str:
        return datetime.fromtimestamp(self.fhir.emu.clock.time(), UTC).isoformat()

    # --- public --------------------------------------------------------------------------------

    async def search(self, request: web.Request) -> web.Response:
        refused = self.fhir.emu.lookup.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        unknown = set(request.query) - SEARCH_PARAMETERS
        if unknown:
            return _outcome(400, "not-supported", f"unknown search parameter {sorted(unknown)[0]}")
        try:
            count = int(request.query.get("_count", "50"))
        except ValueError:
            return _outcome(400, "value", "_count must be a number")
        matching = [
            task
            for task in self.tasks.values()
            if request.query.get("status", task["status"]) == task["status"]
            and request.query.get("intent", task["intent"]) == task["intent"]
        ][: max(0, min(count, 100))]
        return reply(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matching),
                "entry": [{"fullUrl": f"Task/{t['id']}", "resource": t, "search": {"mode": "match"}} for t in matching],
            }
        )

    def read(self, task_id: str) -> dict[str, Any] | None:
        return self.tasks.get(task_id)

    async def update(self, request: web.Request) -> web.Response:
        refused = self.fhir.emu.lookup.refuse_unauthenticated(request)
        if refused is not None:
            return refused
        current = self.tasks.get(request.match_info["id"])
        if current is None:
            return _outcome(404, "not-found", "no such Task")
        try:
            body = await request.json()
        except ValueError:
            return _outcome(400, "structure", "body is not JSON")
        if not isinstance(body, dict) or body.get("resourceType") != "Task" or body.get("id") != current["id"]:
            return _outcome(400, "structure", "the body must be this Task")
        match = request.headers.get("If-Match")
        if match is not None and match.strip('W/"') != current["meta"]["versionId"]:
            return _outcome(412, "conflict", "the Task was changed since it was read")
        for key in set(body) | set(current):
            if key not in CHANGEABLE and body.get(key) != current.get(key):
                return _outcome(422, "business-rule", f"Task.{key} cannot be changed")
        status = body.get("status")
        if status != current["status"] and status not in MOVES.get(current["status"], set()):
            return _outcome(409, "business-rule", f"a Task cannot go from {current['status']} to {status}")
        problem = self._answer_problem(body)
        if problem is not None:
            return _outcome(422, "invalid", problem)
        updated = copy.deepcopy(body)
        updated["meta"] = {"versionId": str(int(current["meta"]["versionId"]) + 1), "lastUpdated": self._now()}
        self.tasks[current["id"]] = updated
        return reply(updated)

    @staticmethod
    def _answer_problem(task: dict[str, Any]) -> str | None:
        reason = task.get("statusReason")
        if task["status"] in ("rejected", "failed") and not (
            isinstance(reason, dict) and (reason.get("text") or reason.get("coding"))
        ):
            return f"a {task['status']} Task needs a statusReason"
        codes = [c.get("code") for c in (reason or {}).get("coding") or [] if isinstance(c, dict)]
        if "counter-proposal" in codes:
            outputs = task.get("output")
            period = outputs[0].get("valuePeriod") if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) else None
            if not isinstance(period, dict):
                return "a counter-proposal needs an output valuePeriod"
            try:
                start, end = (datetime.fromisoformat(str(period[k])) for k in ("start", "end"))
            except (KeyError, ValueError):
                return "the counter-proposal's period needs a start and an end"
            if end <= start:
                return "the counter-proposal's period must end after it starts"
        return None

    # --- control -------------------------------------------------------------------------------

    async def control_add(self, request: web.Request) -> web.Response:
        data: JsonObject = await read_json(request)
        kind = data.get("kind")
        if kind not in ("move", "cancel"):
            raise ControlError(400, "kind must be move or cancel")
        appointment = data.get("appointment")
        if not isinstance(appointment, int):
            raise ControlError(400, "appointment must be the bot's appointment id")
        requester = data.get("requester", "registry")
        if requester not in ("registry", "patient"):
            raise ControlError(400, "requester must be registry or patient")
        task_id = f"ar-{next(self._ids)}"
        now = self._now()
        task: dict[str, Any] = {
            "resourceType": "Task",
            "id": task_id,
            "meta": {"versionId": "1", "lastUpdated": now},
            "status": "requested",
            "intent": "proposal",
            "code": {"coding": [{"system": TASK_CODES, "code": "change" if kind == "move" else "abort"}]},
            "focus": {"identifier": {"system": APPOINTMENT_SYSTEM, "value": str(appointment)}},
            "requester": {"reference": "Patient/p-1"} if requester == "patient" else {"reference": "Organization/registry"},
            "authoredOn": now,
            "lastModified": now,
        }
        if data.get("reason"):
            task["reasonCode"] = {"coding": [{"system": REASON_SYSTEM, "code": str(data["reason"])}]}
        if data.get("expires"):
            task["restriction"] = {"period": {"end": str(data["expires"])}}
        if kind == "move":
            if not data.get("start") or not data.get("end"):
                raise ControlError(400, "a move needs start and end")
            task["input"] = [
                {"type": {"text": "start"}, "valueDateTime": str(data["start"])},
                {"type": {"text": "end"}, "valueDateTime": str(data["end"])},
            ]
        for key in ("input", "focus", "intent"):  # a malformed Task on purpose, to test the client
            if key in data.get("omit", []):
                task.pop(key, None)
        self.tasks[task_id] = task
        return ok({"id": task_id})

    async def control_list(self, request: web.Request) -> web.Response:
        return ok(list(self.tasks.values()))

    def routes(self, fhir_path: str) -> list[web.RouteDef]:
        return [
            web.get(fhir_path + "/Task", self.search, name="fhir.task_search"),
            web.put(fhir_path + "/Task/{id}", self.update, name="fhir.task_update"),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{PREFIX}/fhir/appointment-requests", guarded(self.control_add)),
            web.get(f"{PREFIX}/fhir/appointment-requests", guarded(self.control_list)),
        ]
