"""The Federal Register of Medical Workers (ФРМР, part of ЕГИСЗ): is this person a medical worker?

ESIA proves who the person is, not their profession: specialty, organisations, role and
accreditation come from here, looked up by SNILS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiohttp


class RegisterUnavailable(Exception):
    """No usable answer: down, slow, an HTML page, our key refused (401), the request refused
    (400 ``invalid_snils``) or a malformed body. Never to be read as "not a medical worker":
    only a 404 ``{"found": false}`` means that. ``status`` and ``error`` (the register's error
    code) tell the cases apart in logs; the SNILS itself is never in the message."""

    def __init__(self, reason: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class Position:
    organization_oid: str
    organization_name: str
    position: str
    specialty: str | None
    role: str  # "doctor" or "admin"
    start_date: date | None


@dataclass(frozen=True)
class Certificate:
    """A specialist certificate (сертификат специалиста); replaced by accreditation since 2021."""

    number: str
    specialty: str
    issue_date: date | None
    valid_until: date | None


@dataclass(frozen=True)
class MedicalWorker:
    register_id: str
    last_name: str
    first_name: str
    middle_name: str | None
    positions: tuple[Position, ...]
    accreditation_kind: str | None
    accreditation_specialty: str | None
    accreditation_number: str | None
    accreditation_valid_until: date | None
    certificates: tuple[Certificate, ...] = ()


def normalize_snils(snils: str) -> str:
    return re.sub(r"\D", "", snils)


def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


class RegisterClient:
    def __init__(self, base_url: str, http: aiohttp.ClientSession, api_key: str | None = None, timeout: float = 10.0):
        self._base_url = base_url.rstrip("/")
        self._http = http
        self._api_key = api_key
        self._timeout = timeout

    async def find_by_snils(self, snils: str) -> MedicalWorker | None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        url = f"{self._base_url}/frmr/v1/persons"
        try:
            async with self._http.get(
                url,
                params={"snils": normalize_snils(snils)},
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                # An error page need not be UTF-8: decoding must never be what fails.
                status, text = response.status, await response.text(errors="replace")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RegisterUnavailable(type(exc).__name__) from exc
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if status == 404 and isinstance(body, dict) and body.get("found") is False:
            return None
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("person"), dict):
            error = body.get("error") if isinstance(body, dict) else None
            error = str(error)[:64] if error else None
            raise RegisterUnavailable(f"HTTP {status}" + (f" {error}" if error else ""), status, error)
        if body.get("found") is False:
            return None
        try:
            return self._parse(body["person"])
        except (AttributeError, TypeError) as exc:  # e.g. a position that is not an object
            raise RegisterUnavailable("malformed register answer", status) from exc

    @staticmethod
    def _parse(person: dict[str, Any]) -> MedicalWorker:
        positions = []
        for item in person.get("positions") or []:
            org = item.get("organization") or {}
            positions.append(
                Position(
                    organization_oid=str(org.get("oid") or ""),
                    organization_name=str(org.get("name") or ""),
                    position=str(item.get("position") or ""),
                    specialty=str(item["specialty"]) if item.get("specialty") else None,
                    role="admin" if item.get("role") == "admin" else "doctor",
                    start_date=_date(item.get("startDate")),
                )
            )
        # A certificate without a number or specialty cannot be shown or reminded of: skipped.
        certificates = tuple(
            Certificate(
                number=str(item["number"]),
                specialty=str(item["specialty"]),
                issue_date=_date(item.get("issueDate")),
                valid_until=_date(item.get("validUntil")),
            )
            for item in person.get("certificates") or []
            if item.get("number") and item.get("specialty")
        )
        accreditation = person.get("accreditation") or {}
        return MedicalWorker(
            register_id=str(person.get("id") or ""),
            last_name=str(person.get("lastName") or ""),
            first_name=str(person.get("firstName") or ""),
            middle_name=str(person["middleName"]) if person.get("middleName") else None,
            positions=tuple(positions),
            accreditation_kind=str(accreditation["kind"]) if accreditation.get("kind") else None,
            accreditation_specialty=str(accreditation["specialty"]) if accreditation.get("specialty") else None,
            accreditation_number=str(accreditation["number"]) if accreditation.get("number") else None,
            accreditation_valid_until=_date(accreditation.get("validUntil")),
            certificates=certificates,
        )
