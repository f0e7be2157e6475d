"""The ЕГИСЗ emulator: the ФРМР register of medical workers, and the clinic system's FHIR endpoint
for signed prescriptions, referrals and documents (``fhir.py``).

Control routes under `/_emulator/` (besides health, reset, calls, faults, clock):

| route | what |
| --- | --- |
| `GET /persons`, `POST /persons` `{person JSON}`, `DELETE /persons/{snils}` | the register's entries |
| `GET /auth`, `POST /auth` `{"require_auth", "api_keys"}` | the API key check |
| `POST /fhir/appointment-requests`, `GET /fhir/appointment-requests` | the registry's and patients' requests to move or cancel (``appointment_requests.py``) |
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import ClassVar

from aiohttp import web

from emulators.common import snils
from emulators.common.server import PREFIX, EmulatorServer, JsonObject, guarded, ok, read_json

from .fhir import FhirEndpoint
from .lookup import PERSONS_PATH, Lookup
from .register import RegisterPerson, default_register

DEFAULT_API_KEY = "medcab-egisz-test-key"


class EgiszEmulator(EmulatorServer):
    """``EgiszEmulator(persons=None, api_keys=("medcab-egisz-test-key",), require_auth=True)``."""

    service: ClassVar[str] = "egisz"
    endpoints: ClassVar[tuple[str, ...]] = ("persons", "fhir")

    def __init__(
        self,
        persons: Iterable[RegisterPerson] | None = None,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        require_auth: bool = True,
    ) -> None:
        super().__init__()
        self._initial_persons = list(persons) if persons is not None else default_register()
        self._initial_keys = list(api_keys)
        self._initial_require_auth = require_auth
        self._lookup = Lookup(self)
        self.fhir = FhirEndpoint(self)
        self._restore()

    def _restore(self) -> None:
        # Keyed by the 11 SNILS digits; copies so that reset() undoes in-place changes.
        self.persons: dict[str, RegisterPerson] = {p.snils_digits: copy.deepcopy(p) for p in self._initial_persons}
        self.api_keys: list[str] = list(self._initial_keys)
        self.require_auth = self._initial_require_auth

    def reset(self) -> None:
        super().reset()
        self._restore()
        self.fhir.reset()

    @property
    def lookup(self) -> Lookup:
        return self._lookup

    def public_routes(self) -> list[web.RouteDef]:
        return [
            web.get(PERSONS_PATH, self._lookup.by_snils, name="persons"),
            web.get(PERSONS_PATH + "/{id}", self._lookup.by_id, name="persons.by_id"),
            *self.fhir.routes(),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return [
            *super().control_routes(),
            web.get(f"{PREFIX}/persons", guarded(self._list_persons)),
            web.post(f"{PREFIX}/persons", guarded(self._add_person)),
            web.delete(f"{PREFIX}/persons/{{snils}}", guarded(self._remove_person)),
            web.get(f"{PREFIX}/auth", guarded(self._get_auth)),
            web.post(f"{PREFIX}/auth", guarded(self._set_auth)),
            web.post(f"{PREFIX}/fhir/reject", guarded(self.fhir.control_reject)),
            *self.fhir.requests.control_routes(),
            web.get(f"{PREFIX}/fhir/submissions", guarded(self.fhir.control_list)),
        ]

    def unavailable_response(self) -> web.Response:
        return web.json_response(
            {"error": "temporarily_unavailable", "message": "ФРМР временно недоступен, повторите запрос позже"},
            status=503,
            headers={"Retry-After": "30"},
        )

    def health(self) -> JsonObject:
        return {**super().health(), "persons": len(self.persons)}

    # --- Python API -----------------------------------------------------------------------------

    def add_person(self, person: RegisterPerson) -> RegisterPerson:
        self.persons[person.snils_digits] = person
        return person

    def remove_person(self, snils_value: str) -> None:
        del self.persons[snils.normalize(snils_value)]

    def find(self, snils_value: str) -> RegisterPerson | None:
        return self.persons.get(snils.normalize(snils_value))

    # --- control handlers -----------------------------------------------------------------------

    async def _list_persons(self, request: web.Request) -> web.Response:
        return ok([p.to_json() for p in self.persons.values()])

    async def _add_person(self, request: web.Request) -> web.Response:
        return ok(self.add_person(RegisterPerson.from_json(await read_json(request))).to_json())

    async def _remove_person(self, request: web.Request) -> web.Response:
        self.remove_person(request.match_info["snils"])
        return ok()

    def _auth_state(self) -> JsonObject:
        return {"require_auth": self.require_auth, "api_keys": list(self.api_keys)}

    async def _get_auth(self, request: web.Request) -> web.Response:
        return ok(self._auth_state())

    async def _set_auth(self, request: web.Request) -> web.Response:
        data = await read_json(request)
        if "require_auth" in data:
            self.require_auth = bool(data["require_auth"])
        if "api_keys" in data:
            self.api_keys = [str(k) for k in data["api_keys"]]
        return ok(self._auth_state())
