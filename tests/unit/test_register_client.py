"""``RegisterClient`` (ФРМР, the register of medical workers) against the ЕГИСЗ emulator in-process,
plus a tiny server of our own for answers the emulator never gives.

Decision on a 400 (the register refuses the SNILS as malformed): ``RegisterUnavailable`` with
``status`` 400 and ``error`` "invalid_snils". The SNILS comes from a confirmed ESIA account, so a
400 is a client or register defect, not something the person can fix; what matters is that it is
never read as "not a medical worker" (``None`` is reserved for a 404 ``{"found": false}``) and that
the callers, which already handle ``RegisterUnavailable``, fail closed. ``status``/``error`` tell it
apart from an outage in the logs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulators.egisz import EgiszEmulator
from services.identity.register import Certificate, MedicalWorker, RegisterClient, RegisterUnavailable, normalize_snils

API_KEY = "medcab-egisz-test-key"
IVANOV_SNILS = "112-233-445 95"
PETROVA_SNILS = "128-395-601 82"
VOLKOVA_SNILS = "203-948-571 74"
MOROZOV_SNILS = "190-847-362 99"  # confirmed at ESIA, not a medical worker


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def egisz() -> AsyncIterator[EgiszEmulator]:
    emulator = EgiszEmulator(api_keys=(API_KEY,))
    await emulator.start(port=0)
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def register(egisz: EgiszEmulator, http: aiohttp.ClientSession) -> RegisterClient:
    return RegisterClient(egisz.base_url, http, API_KEY, timeout=2.0)


def test_normalize_snils() -> None:
    assert normalize_snils("112-233-445 95") == "11223344595"
    assert normalize_snils(" 112 233 445 95 ") == "11223344595"


async def test_found_with_position_and_accreditation(register: RegisterClient, egisz: EgiszEmulator) -> None:
    worker = await register.find_by_snils(IVANOV_SNILS)
    assert isinstance(worker, MedicalWorker)
    assert worker.register_id == egisz.persons["11223344595"].id
    assert (worker.last_name, worker.first_name, worker.middle_name) == ("Иванов", "Сергей", "Александрович")
    (position,) = worker.positions
    assert position.organization_oid == "1.2.643.5.1.13.13.12.2.77.7801"
    assert position.organization_name == "ГБУЗ «Городская поликлиника № 1 ДЗМ»"
    assert position.position == "врач-терапевт участковый"
    assert position.specialty == "Терапия"
    assert position.role == "doctor"
    assert position.start_date == date(2012, 9, 1)
    assert worker.accreditation_kind == "periodic"
    assert worker.accreditation_specialty == "Терапия"
    assert worker.accreditation_number == "7724 031000101"
    assert worker.accreditation_valid_until == date(2029, 3, 31)
    assert worker.certificates == (Certificate("0177180012345", "Терапия", date(2019, 3, 29), date(2024, 3, 29)),)
    # The key went along; the SNILS as 11 digits.
    call = egisz.calls.filter("persons")[-1]
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert call.query["snils"] == ["11223344595"]


async def test_several_positions_and_the_admin_role(register: RegisterClient) -> None:
    petrova = await register.find_by_snils(PETROVA_SNILS)
    assert petrova is not None
    assert [(p.organization_oid, p.start_date) for p in petrova.positions] == [
        ("1.2.643.5.1.13.13.12.2.77.7802", date(2016, 8, 15)),
        ("1.2.643.5.1.13.13.12.2.77.7801", date(2021, 2, 1)),
    ]
    assert {p.role for p in petrova.positions} == {"doctor"}
    assert petrova.accreditation_kind == "primary"
    assert [(c.number, c.specialty, c.valid_until) for c in petrova.certificates] == [
        ("0177270054321", "Неонатология", date(2027, 1, 31))
    ]
    volkova = await register.find_by_snils(VOLKOVA_SNILS)
    assert volkova is not None and [p.role for p in volkova.positions] == ["admin"]


async def test_snils_written_as_digits_is_found_too(register: RegisterClient) -> None:
    worker = await register.find_by_snils("11223344595")
    assert worker is not None and worker.last_name == "Иванов"


async def test_not_in_the_register_is_none(register: RegisterClient, egisz: EgiszEmulator) -> None:
    assert await register.find_by_snils(MOROZOV_SNILS) is None
    assert egisz.calls.filter("persons")[-1].status == 404


@pytest.mark.parametrize("snils", ["112-233-445 96", "123", "1122334459512"], ids=["check number", "short", "long"])
async def test_a_snils_the_register_refuses_is_unavailable_never_none(
    snils: str, register: RegisterClient, egisz: EgiszEmulator
) -> None:
    with pytest.raises(RegisterUnavailable) as caught:
        await register.find_by_snils(snils)
    assert caught.value.status == 400 and caught.value.error == "invalid_snils"
    assert "400" in str(caught.value) and "invalid_snils" in str(caught.value)
    assert normalize_snils(snils) not in str(caught.value)  # personal data stays out of messages
    assert egisz.calls.filter("persons")[-1].status == 400


async def test_no_api_key_is_401_and_unavailable(egisz: EgiszEmulator, http: aiohttp.ClientSession) -> None:
    keyless = RegisterClient(egisz.base_url, http, None, timeout=2.0)
    with pytest.raises(RegisterUnavailable) as caught:
        await keyless.find_by_snils(IVANOV_SNILS)
    assert caught.value.status == 401 and caught.value.error == "unauthorized"
    assert "Authorization" not in egisz.calls.filter("persons")[-1].headers


async def test_a_wrong_api_key_is_unavailable(egisz: EgiszEmulator, http: aiohttp.ClientSession) -> None:
    wrong = RegisterClient(egisz.base_url, http, "not-the-key", timeout=2.0)
    with pytest.raises(RegisterUnavailable) as caught:
        await wrong.find_by_snils(IVANOV_SNILS)
    assert caught.value.status == 401


async def test_html_500_is_unavailable(register: RegisterClient, egisz: EgiszEmulator) -> None:
    egisz.fail_next("persons", "html500")
    with pytest.raises(RegisterUnavailable) as caught:
        await register.find_by_snils(IVANOV_SNILS)
    assert caught.value.status == 500 and caught.value.error is None
    # The next request works again.
    assert await register.find_by_snils(IVANOV_SNILS) is not None


async def test_503_is_unavailable(register: RegisterClient, egisz: EgiszEmulator) -> None:
    egisz.fail_next("persons", "unavailable")
    with pytest.raises(RegisterUnavailable) as caught:
        await register.find_by_snils(IVANOV_SNILS)
    assert caught.value.status == 503


async def test_a_slow_register_is_unavailable(egisz: EgiszEmulator, http: aiohttp.ClientSession) -> None:
    impatient = RegisterClient(egisz.base_url, http, API_KEY, timeout=0.3)
    egisz.fail_next("persons", "slow", delay=5.0)
    started = time.monotonic()
    with pytest.raises(RegisterUnavailable) as caught:
        await impatient.find_by_snils(IVANOV_SNILS)
    assert time.monotonic() - started < 2.0
    assert caught.value.status is None


async def test_nobody_listening_is_unavailable(http: aiohttp.ClientSession) -> None:
    server = FakeRegister(lambda request: web.Response(status=204))
    base_url = await server.start()
    await server.stop()
    with pytest.raises(RegisterUnavailable):
        await RegisterClient(base_url, http, API_KEY, timeout=2.0).find_by_snils(IVANOV_SNILS)


# --- answers the emulator does not give ----------------------------------------------------------


class FakeRegister:
    def __init__(self, respond: Callable[[web.Request], web.Response]) -> None:
        self.respond = respond
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        return self.respond(request)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/frmr/v1/persons", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def fake(http: aiohttp.ClientSession) -> AsyncIterator[tuple[FakeRegister, RegisterClient]]:
    server = FakeRegister(lambda request: web.json_response({"found": False}, status=404))
    base_url = await server.start()
    try:
        yield server, RegisterClient(base_url + "/", http, API_KEY, timeout=2.0)
    finally:
        await server.stop()


def person(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "r-1",
        "lastName": "Иванов",
        "firstName": "Сергей",
        "middleName": None,
        "snils": IVANOV_SNILS,
        "positions": [
            {
                "organization": {"oid": "1.2.3", "name": "Клиника", "ogrn": "1"},
                "position": "врач",
                "specialty": "Терапия",
                "role": "doctor",
                "startDate": "2020-01-15",
            }
        ],
        "accreditation": {"kind": "periodic", "specialty": "Терапия", "validUntil": "2030-01-01", "number": "1"},
    }
    body.update(changes)
    return body


async def test_missing_and_odd_fields_parse_to_none(fake: tuple[FakeRegister, RegisterClient]) -> None:
    server, register = fake
    odd_position = {"organization": None, "position": "врач", "role": "chief", "startDate": "15.01.2020"}
    server.respond = lambda request: web.json_response(
        {"found": True, "person": person(positions=[odd_position], accreditation=None, middleName="")}
    )
    worker = await register.find_by_snils(IVANOV_SNILS)
    assert worker is not None
    (position,) = worker.positions
    assert position.organization_oid == "" and position.specialty is None
    assert position.role == "doctor"  # anything but "admin" is a doctor, never an escalation
    assert position.start_date is None  # not ISO: unknown, not a crash
    assert worker.middle_name is None and worker.accreditation_kind is None
    assert worker.accreditation_valid_until is None


async def test_timestamps_are_read_as_dates(fake: tuple[FakeRegister, RegisterClient]) -> None:
    server, register = fake
    accreditation = {"kind": "periodic", "validUntil": "2030-01-01T00:00:00+03:00"}
    server.respond = lambda request: web.json_response({"found": True, "person": person(accreditation=accreditation)})
    worker = await register.find_by_snils(IVANOV_SNILS)
    assert worker is not None and worker.accreditation_valid_until == date(2030, 1, 1)


async def test_certificates_without_number_or_specialty_are_skipped(
    fake: tuple[FakeRegister, RegisterClient],
) -> None:
    server, register = fake
    certificates = [
        {"number": "0177", "specialty": "Кардиология", "issueDate": "2020-05-01", "validUntil": "2025-05-01"},
        {"number": "", "specialty": "Терапия", "validUntil": "2026-01-01"},
        {"number": "0178", "validUntil": "2026-01-01"},
        {"number": "0179", "specialty": "Неврология", "validUntil": "не указано"},
    ]
    server.respond = lambda request: web.json_response({"found": True, "person": person(certificates=certificates)})
    worker = await register.find_by_snils(IVANOV_SNILS)
    assert worker is not None
    assert worker.certificates == (
        Certificate("0177", "Кардиология", date(2020, 5, 1), date(2025, 5, 1)),
        Certificate("0179", "Неврология", None, None),
    )
    # No certificates member at all: none, not a failure.
    server.respond = lambda request: web.json_response({"found": True, "person": person()})
    worker = await register.find_by_snils(IVANOV_SNILS)
    assert worker is not None and worker.certificates == ()


async def test_found_false_with_200_is_none(fake: tuple[FakeRegister, RegisterClient]) -> None:
    server, register = fake
    server.respond = lambda request: web.json_response({"found": False, "person": {}})
    assert await register.find_by_snils(IVANOV_SNILS) is None


@pytest.mark.parametrize(
    "response",
    [
        lambda: web.json_response({"found": True, "person": person(positions=["врач"])}),
        lambda: web.json_response({"found": True, "person": person(accreditation=["periodic"])}),
        lambda: web.json_response({"found": True, "person": person(positions=[{"organization": "ГП 1"}])}),
        lambda: web.json_response({"found": True, "person": person(certificates=["0177180012345"])}),
        lambda: web.json_response({"found": True}),
        lambda: web.json_response({"found": True, "person": "Иванов"}),
        lambda: web.json_response([{"found": True}]),
        lambda: web.json_response({"error": "not_found"}, status=404),  # a 404 that is not {"found": false}
        lambda: web.Response(status=404, text="<html>Not Found</html>", content_type="text/html"),
        lambda: web.Response(
            status=500,
            body="<html>Ошибка</html>".encode("cp1251"),
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
        lambda: web.Response(status=200, text='{"found": true, "person": {', content_type="application/json"),
    ],
    ids=[
        "position a string",
        "accreditation a list",
        "organization a string",
        "certificate a string",
        "no person",
        "person a string",
        "json list",
        "404 without found false",
        "html 404",
        "html500 cp1251",
        "truncated json",
    ],
)
async def test_malformed_answers_are_unavailable(
    response: Callable[[], web.Response], fake: tuple[FakeRegister, RegisterClient]
) -> None:
    server, register = fake
    server.respond = lambda request: response()
    with pytest.raises(RegisterUnavailable):
        await register.find_by_snils(IVANOV_SNILS)
