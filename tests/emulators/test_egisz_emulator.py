"""The ЕГИСЗ/ФРМР emulator: register lookups by SNILS, auth, faults, and agreement with the ESIA
personas (same people, same SNILS)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulators.common import snils
from emulators.egisz import DEFAULT_API_KEY, EgiszEmulator
from emulators.esia import default_personas

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"X-API-Key": DEFAULT_API_KEY}
IVANOV_SNILS = "112-233-445 95"


@pytest.fixture
async def egisz() -> AsyncIterator[EgiszEmulator]:
    emulator = EgiszEmulator()
    await emulator.start(port=0)
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def web_client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def lookup(
    http: aiohttp.ClientSession, emu: EgiszEmulator, value: str | None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    params = {"snils": value} if value is not None else {}
    async with http.get(
        f"{emu.base_url}/frmr/v1/persons", params=params, headers=AUTH if headers is None else headers
    ) as r:
        text = await r.text()
        return r.status, (await r.json()) if r.content_type == "application/json" else text


@pytest.mark.parametrize("value", [IVANOV_SNILS, "11223344595", "112-233-44595", " 112 233 445 95 "])
async def test_found_by_snils_in_any_spelling(
    egisz: EgiszEmulator, web_client: aiohttp.ClientSession, value: str
) -> None:
    status, body = await lookup(web_client, egisz, value)
    assert status == 200 and body["found"] is True
    person = body["person"]
    assert (person["lastName"], person["firstName"], person["middleName"]) == ("Иванов", "Сергей", "Александрович")
    assert person["snils"] == IVANOV_SNILS and person["id"]
    [position] = person["positions"]
    assert position["organization"] == {
        "oid": "1.2.643.5.1.13.13.12.2.77.7801",
        "name": "ГБУЗ «Городская поликлиника № 1 ДЗМ»",
        "ogrn": "1027700001119",
    }
    assert position["position"] == "врач-терапевт участковый" and position["specialty"] == "Терапия"
    assert position["role"] == "doctor" and position["startDate"] == "2012-09-01"
    assert person["accreditation"] == {
        "kind": "periodic",
        "specialty": "Терапия",
        "validUntil": "2029-03-31",
        "number": "7724 031000101",
    }
    assert isinstance(person["certificates"], list)


async def test_not_found(egisz: EgiszEmulator, web_client: aiohttp.ClientSession) -> None:
    morozov = "190-847-362 99"  # confirmed in ESIA, not a medical worker
    assert await lookup(web_client, egisz, morozov) == (404, {"found": False})


@pytest.mark.parametrize("value", ["", "123", "1122334459X", "112-233-445 96", "112233445951"])
async def test_malformed_snils_is_400(egisz: EgiszEmulator, web_client: aiohttp.ClientSession, value: str) -> None:
    status, body = await lookup(web_client, egisz, value)
    assert status == 400 and body["error"] == "invalid_snils" and body["message"]


async def test_missing_snils_is_400(egisz: EgiszEmulator, web_client: aiohttp.ClientSession) -> None:
    status, body = await lookup(web_client, egisz, None)
    assert status == 400 and body["error"] == "invalid_snils"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {DEFAULT_API_KEY}"}],
)
async def test_auth_required(egisz: EgiszEmulator, web_client: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    status, body = await lookup(web_client, egisz, IVANOV_SNILS, headers)
    assert status == 401 and body["error"] == "unauthorized"


async def test_bearer_auth_and_auth_switch(egisz: EgiszEmulator, web_client: aiohttp.ClientSession) -> None:
    assert (await lookup(web_client, egisz, IVANOV_SNILS, {"Authorization": f"Bearer {DEFAULT_API_KEY}"}))[0] == 200
    async with web_client.post(f"{egisz.base_url}/_emulator/auth", json={"require_auth": False}) as response:
        assert response.status == 200
    assert (await lookup(web_client, egisz, IVANOV_SNILS, {}))[0] == 200


async def test_register_agrees_with_esia_personas(egisz: EgiszEmulator) -> None:
    personas = {p.key: p for p in default_personas()}
    for persona in personas.values():
        if persona.snils is None:
            continue
        entry = egisz.find(persona.snils)
        if persona.key == "morozov":
            assert entry is None  # the confirmed non-medical person
            continue
        assert entry is not None, persona.key
        assert (entry.lastName, entry.firstName, entry.middleName) == (
            persona.last_name,
            persona.first_name,
            persona.middle_name,
        )
    namesake = egisz.find(personas["ivanov_namesake"].snils or "")
    ivanov = egisz.find(IVANOV_SNILS)
    assert namesake is not None and ivanov is not None and namesake.id != ivanov.id
    assert namesake.positions[0].specialty != ivanov.positions[0].specialty
    admin = egisz.find(personas["volkova"].snils or "")
    assert admin is not None and [p.role for p in admin.positions] == ["admin"]
    assert all(snils.is_valid(p.snils) for p in egisz.persons.values())


async def test_faults(egisz: EgiszEmulator, web_client: aiohttp.ClientSession) -> None:
    egisz.fail_next("persons", "html500")
    status, body = await lookup(web_client, egisz, IVANOV_SNILS)
    assert status == 500 and "<html" in body
    async with web_client.post(
        f"{egisz.base_url}/_emulator/faults", json={"endpoint": "persons", "kind": "unavailable"}
    ) as response:
        assert response.status == 200
    status, body = await lookup(web_client, egisz, IVANOV_SNILS)
    assert status == 503 and body["error"] == "temporarily_unavailable"
    egisz.fail_next("persons", "slow", delay=2.0)
    with pytest.raises(asyncio.TimeoutError):
        async with web_client.get(
            f"{egisz.base_url}/frmr/v1/persons",
            params={"snils": IVANOV_SNILS},
            headers=AUTH,
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass
    assert (await lookup(web_client, egisz, IVANOV_SNILS))[0] == 200
    assert [c.fault for c in egisz.calls.filter("persons")] == ["html500", "unavailable", "slow", None]


async def test_control_persons_and_reset(egisz: EgiszEmulator, web_client: aiohttp.ClientSession) -> None:
    new = {
        "lastName": "Новикова",
        "firstName": "Вера",
        "middleName": "Ильинична",
        "snils": "225-588-114 79",
        "positions": [
            {
                "organization": {
                    "oid": "1.2.643.5.1.13.13.12.2.77.9999",
                    "name": "ГБУЗ «Тест»",
                    "ogrn": "1037739004445",
                },
                "position": "врач-терапевт",
                "specialty": "Терапия",
                "role": "doctor",
                "startDate": "2024-01-10",
            }
        ],
        "accreditation": {"kind": "primary", "specialty": "Терапия", "validUntil": "2029-01-01", "number": "1"},
    }
    async with web_client.post(f"{egisz.base_url}/_emulator/persons", json=new) as response:
        assert response.status == 200, await response.text()
    status, body = await lookup(web_client, egisz, "22558811479")
    assert status == 200 and body["person"]["positions"][0]["organization"]["name"] == "ГБУЗ «Тест»"
    async with web_client.get(f"{egisz.base_url}/frmr/v1/persons/{body['person']['id']}", headers=AUTH) as response:
        assert (await response.json())["person"]["lastName"] == "Новикова"
    async with web_client.post(f"{egisz.base_url}/_emulator/reset") as response:
        assert response.status == 200
    assert (await lookup(web_client, egisz, "22558811479"))[0] == 404
    assert not egisz.calls.records[1:]  # only the lookup after the reset
    async with web_client.get(f"{egisz.base_url}/_emulator/health") as response:
        health = (await response.json())["result"]
    assert health["service"] == "egisz" and health["status"] == "up"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_standalone_process_answers_health(web_client: aiohttp.ClientSession) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulators.egisz",
        "--port",
        str(port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
        assert f"http://127.0.0.1:{port}" in line, line
        async with web_client.get(f"http://127.0.0.1:{port}/_emulator/health") as response:
            assert (await response.json())["result"]["service"] == "egisz"
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
