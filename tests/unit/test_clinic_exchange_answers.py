"""A clinic system answering a task poll with something that is not a FHIR Task: the row is
retried later, and the delivery tick goes on with the others."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.clinic_exchange import ClinicExchange
from storage.crypto import FieldCipher, generate_key


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<html>Bad gateway</html>", "text/html", ("retry", "malformed task (not JSON)")),
        ('["a list"]', "application/fhir+json", ("retry", "malformed task (not an object)")),
        ('{"resourceType": "Task", "status": "completed"}', "application/fhir+json", ("accepted", "")),
    ],
)
async def test_a_malformed_task_is_retried(body: str, content_type: str, expected: tuple[str, str]) -> None:
    async def task(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/fhir/Task/{id}", task)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        exchange = ClinicExchange(None, FieldCipher({"k": generate_key()}, "k"), http, str(server.make_url("")).rstrip("/"))  # type: ignore[arg-type]
        assert await exchange._poll("t-1") == expected
