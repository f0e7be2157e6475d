"""The clinic system's change requests in the ЕГИСЗ emulator (FHIR R4 Task): search, read, and the
rules an update must follow — what a client that gets them wrong is told."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
from fhir.resources.R4B.bundle import Bundle

from emulators.egisz import DEFAULT_API_KEY, EgiszEmulator
from tests.emulators import test_egisz_emulator as emulator_tests

AUTH = {"X-API-Key": DEFAULT_API_KEY}


# The emulator on a free port and an HTTP session, as the emulator's other tests have them.
egisz, http = emulator_tests.egisz, emulator_tests.web_client


async def ask(http: aiohttp.ClientSession, egisz: EgiszEmulator, **request: Any) -> dict[str, Any]:
    async with http.post(f"{egisz.base_url}/_emulator/fhir/appointment-requests", json=request) as response:
        task_id = (await response.json())["result"]["id"]
    async with http.get(f"{egisz.base_url}/fhir/Task/{task_id}", headers=AUTH) as response:
        assert response.status == 200
        task: dict[str, Any] = await response.json()
        return task


async def put(http: aiohttp.ClientSession, egisz: EgiszEmulator, task: dict[str, Any], **headers: str) -> tuple[int, Any]:
    async with http.put(f"{egisz.base_url}/fhir/Task/{task['id']}", json=task, headers={**AUTH, **headers}) as response:
        return response.status, await response.json()


async def test_search_answers_a_searchset_of_requested_proposals(egisz: EgiszEmulator, http: aiohttp.ClientSession) -> None:
    await ask(http, egisz, appointment=7, kind="cancel")
    moved = await ask(http, egisz, appointment=8, kind="move", start="2026-12-11T09:00:00+03:00", end="2026-12-11T09:30:00+03:00")
    params = {"status": "requested", "intent": "proposal"}
    async with http.get(f"{egisz.base_url}/fhir/Task", params=params, headers=AUTH) as response:
        bundle = await response.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset" and [e["resource"]["id"] for e in bundle["entry"]] == ["ar-1", moved["id"]]
    async with http.get(f"{egisz.base_url}/fhir/Task", params={"owner": "x"}, headers=AUTH) as response:
        assert response.status == 400 and (await response.json())["resourceType"] == "OperationOutcome"
    async with http.get(f"{egisz.base_url}/fhir/Task", params=params) as response:
        assert response.status == 401


async def test_updates_follow_the_workflow(egisz: EgiszEmulator, http: aiohttp.ClientSession) -> None:
    task = await ask(http, egisz, appointment=7, kind="move", start="2026-12-11T09:00:00+03:00", end="2026-12-11T09:30:00+03:00")

    def changed(**fields: Any) -> dict[str, Any]:
        updated = copy.deepcopy(task)
        updated.update(fields)
        return updated

    assert (await put(http, egisz, changed(status="completed")))[0] == 409  # requested → completed skips received
    assert (await put(http, egisz, changed(status="received", intent="order")))[0] == 422  # not the status only
    status, body = await put(http, egisz, changed(status="received"), **{"If-Match": 'W/"7"'})
    assert status == 412
    status, body = await put(http, egisz, changed(status="received"), **{"If-Match": 'W/"1"'})
    assert status == 200 and body["meta"]["versionId"] == "2"
    task = body
    assert (await put(http, egisz, changed(status="rejected")))[0] == 422  # no statusReason
    counter = changed(status="rejected", statusReason={"coding": [{"code": "counter-proposal"}]})
    assert (await put(http, egisz, counter))[0] == 422  # no output period
    counter["output"] = [{"type": {"text": "counter-proposal"}, "valuePeriod": {"start": "2026-12-11T10:00:00+03:00", "end": "2026-12-11T10:30:00+03:00"}}]
    status, body = await put(http, egisz, counter)
    assert status == 200 and body["status"] == "rejected"
    assert (await put(http, egisz, changed(status="received")))[0] == 409  # a final status stays
