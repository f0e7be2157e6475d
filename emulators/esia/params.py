"""Reading ESIA request parameters the way ESIA judges them: missing (007014, names in […]),
duplicated or malformed (007003), the signed `timestamp` (007015), the signature (007053)."""

from __future__ import annotations

import asyncio
import datetime
import re
import uuid
from collections.abc import Mapping
from typing import Any

from multidict import MultiMapping

from .clients import RegisteredClient
from .errors import EsiaError, missing
from .gost import decode_signature

TIMESTAMP_FORMAT = "%Y.%m.%d %H:%M:%S %z"  # yyyy.MM.dd HH:mm:ss Z
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class Params:
    def __init__(self, values: MultiMapping[Any] | Mapping[str, str]) -> None:
        self._values: dict[str, list[str]] = {}
        if isinstance(values, MultiMapping):
            for key in values:
                self._values.setdefault(key, [str(v) for v in values.getall(key)])
        else:
            self._values = {k: [v] for k, v in values.items()}

    def get(self, name: str, default: str = "") -> str:
        found = self._values.get(name)
        return found[0] if found else default

    def has(self, name: str) -> bool:
        return bool(self.get(name))

    def require(self, names: list[str]) -> None:
        """007014 naming every absent (or empty) parameter, then 007003 for duplicated ones."""
        absent = [n for n in names if not self.has(n)]
        if absent:
            raise missing(absent)
        self.single(names)

    def single(self, names: list[str]) -> None:
        repeated = [n for n in names if len(self._values.get(n, [])) > 1]
        if repeated:
            raise EsiaError("007003", f"[{', '.join(repeated)}].")

    def to_dict(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items()}


def check_state(state: str, require_uuid: bool) -> None:
    if not require_uuid:
        return
    try:
        uuid.UUID(state)
    except ValueError as error:
        raise EsiaError("007003", "[state] must be a UUID.") from error


def check_scopes(scope: str, supported: tuple[str, ...]) -> list[str]:
    scopes = scope.split()
    if not scopes:
        raise EsiaError("007013")
    unknown = [s for s in scopes if s not in supported]
    if unknown:
        raise EsiaError("007006", f"[{', '.join(unknown)}].")
    return scopes


def check_timestamp(value: str, now: float, tolerance: float) -> None:
    try:
        moment = datetime.datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError as error:
        hint = " (a '+' sent unencoded arrives as a space)" if " " in value.strip()[19:] else ""
        raise EsiaError("007015", f"[timestamp] must look like 2026.11.25 12:00:00 +0300{hint}.") from error
    drift = moment.timestamp() - now
    if abs(drift) > tolerance:
        raise EsiaError("007015", f"[timestamp] differs from the server time by {int(drift)} s.")


def check_certificate_hash(client: RegisteredClient, value: str) -> None:
    # ESIA compares with the upper-case hex Streebog-256 of the registered certificate's DER;
    # a hash of the PEM text (or of another certificate) does not match.
    if value != client.certificate_hash:
        raise EsiaError("007002", "[client_certificate_hash].")


async def check_secret(client: RegisteredClient, secret: str, signed: str) -> None:
    signature = decode_signature(secret)
    if signature is None or len(signature) != 64:
        raise EsiaError("007053", "[client_secret] is not a 64-byte GOST R 34.10-2012 signature.")
    # ~80 ms of pure-Python arithmetic: off the event loop so other requests keep flowing.
    if not await asyncio.to_thread(client.public_key.verify, signed.encode("utf-8"), signature):
        raise EsiaError("007053")
