"""Tunables of the ESIA emulator: what ESIA does not publish (code lifetime, timestamp tolerance)
and where public client libraries disagree (the refresh-token signed string)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

TEST_STAND_ISSUER = "http://esia-portal1.test.gosuslugi.ru/"
# Scopes a person-data request may ask for; anything else is ESIA-007006.
SUPPORTED_SCOPES = (
    "openid",
    "fullname",
    "birthdate",
    "gender",
    "snils",
    "inn",
    "id_doc",
    "birthplace",
    "email",
    "mobile",
    "contacts",
    "addresses",
)
REFRESH_SIGNED_STRINGS = ("either", "authorize", "refresh_token")


@dataclass
class EsiaSettings:
    issuer: str = TEST_STAND_ISSUER
    timestamp_tolerance: float = 300.0  # seconds either way for the signed `timestamp`
    code_ttl: float = 120.0
    refresh_ttl: float = 14 * 24 * 3600.0
    signin_page_ttl: float = 900.0  # how long a pending sign-in page stays usable
    supported_scopes: tuple[str, ...] = SUPPORTED_SCOPES
    # Refresh grant signed string: "authorize" = client_id+scope+scope_org+timestamp+state+redirect_uri,
    # "refresh_token" = client_id+scope+timestamp+state+refresh_token, "either" accepts both.
    refresh_signed_string: str = "either"
    # ESIA wants `state` to be a UUID; a client sending anything else gets ESIA-007003.
    require_uuid_state: bool = True
    # A browser with an ESIA session cookie is signed in again without the page (real SSO).
    sso: bool = True
    # Fault: tokens are issued with this offset (seconds) on iat/nbf/exp, as if ESIA's clock drifted.
    token_time_offset: float = 0.0

    def update(self, data: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if "refresh_signed_string" in data and data["refresh_signed_string"] not in REFRESH_SIGNED_STRINGS:
            raise ValueError(f"refresh_signed_string must be one of {', '.join(REFRESH_SIGNED_STRINGS)}")
        for name, value in data.items():
            current = getattr(self, name)
            if isinstance(current, tuple):
                value = tuple(value)
            elif isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["supported_scopes"] = list(self.supported_scopes)
        return data
