"""ESIA's ``client_secret``: which string is signed for which request, and how it is encoded.

The one place that knows the concatenation orders: an extra or missing field anywhere else would
only show up as ESIA-007053 ("wrong client_secret") against the real service.

| request                      | signed string (UTF-8, plain concatenation)                          |
| ---------------------------- | ------------------------------------------------------------------- |
| ``v2/ac``                    | client_id + scope + scope_org + timestamp + state + redirect_uri    |
| ``v3/te`` authorization_code | the same fields as sent to ``/te`` + code                           |
| ``v3/te`` refresh_token      | sources disagree: ``RefreshSecret`` picks one of the two variants   |
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.signing.signer import Signer

TIMESTAMP_FORMAT = "%Y.%m.%d %H:%M:%S %z"  # ESIA's "yyyy.MM.dd HH:mm:ss Z"


def esia_timestamp(moment: datetime) -> str:
    """``2026.11.25 12:00:00 +0300``. The moment must be aware: ESIA checks it against its clock."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("ESIA timestamps need an aware datetime (with a UTC offset)")
    return moment.strftime(TIMESTAMP_FORMAT)


@dataclass(frozen=True)
class SecretFields:
    """The request fields that go into the signed string, exactly as they are sent.

    ``scope`` is the space-separated string of the request and ``timestamp`` the already formatted
    value (``esia_timestamp``): the same strings must be signed and sent.
    """

    client_id: str
    scope: str
    timestamp: str
    state: str
    redirect_uri: str
    scope_org: str = ""


class RefreshSecret(StrEnum):
    """Which string a ``refresh_token`` grant signs; public clients disagree, so it is a setting."""

    # client_id + scope + scope_org + timestamp + state + redirect_uri (as for the authorize request)
    AUTHORIZE_FIELDS = "authorize_fields"
    # client_id + scope + timestamp + state + refresh_token
    WITH_REFRESH_TOKEN = "with_refresh_token"  # noqa: S105 (a variant's name, not a secret)


def authorize_string(fields: SecretFields) -> str:
    """Signed string of ``GET /aas/oauth2/v2/ac``."""
    return fields.client_id + fields.scope + fields.scope_org + fields.timestamp + fields.state + fields.redirect_uri


def token_string(fields: SecretFields, code: str) -> str:
    """Signed string of ``POST /aas/oauth2/v3/te`` with ``grant_type=authorization_code``.

    ``fields`` are those sent to ``/te`` (a new state and timestamp, not the authorize ones).
    """
    return authorize_string(fields) + code


def refresh_string(fields: SecretFields, refresh_token: str, variant: RefreshSecret) -> str:
    """Signed string of ``POST /aas/oauth2/v3/te`` with ``grant_type=refresh_token``."""
    if variant is RefreshSecret.AUTHORIZE_FIELDS:
        return authorize_string(fields)
    return fields.client_id + fields.scope + fields.timestamp + fields.state + refresh_token


def encode_secret(signature: bytes) -> str:
    """Raw signature → ``client_secret``: base64url without padding (what ESIA documents)."""
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


def decode_secret(value: str) -> bytes:
    """``client_secret`` → raw signature, accepting padding and the standard alphabet too, as ESIA
    does (clients differ)."""
    text = value.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("client_secret is not base64") from error


def client_secret(signer: Signer, message: str) -> str:
    """Sign ``message`` (UTF-8) and encode it as ``client_secret``. Blocks for tens of ms."""
    return encode_secret(signer.sign(message.encode("utf-8")))


async def client_secret_async(signer: Signer, message: str) -> str:
    """``client_secret`` without blocking the event loop."""
    return encode_secret(await signer.sign_async(message.encode("utf-8")))
