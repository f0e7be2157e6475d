"""The ESIA signed strings and the ``client_secret`` encoding, against the vectors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.signing import (
    RefreshSecret,
    SecretFields,
    authorize_string,
    client_secret,
    client_secret_async,
    decode_secret,
    encode_secret,
    esia_timestamp,
    refresh_string,
    token_string,
    verify,
)

MSK = timezone(timedelta(hours=3))

# The inputs message.txt was made from.
FIELDS = SecretFields(
    client_id="MEDCAB01",
    scope="openid fullname snils",
    scope_org="",
    timestamp="2026.11.25 12:00:00 +0300",
    state="c0ffee00-0000-4000-8000-000000000000",
    redirect_uri="https://bot.example/auth/esia/callback",
)


def test_authorize_string_is_the_vector_message(vectors) -> None:
    assert authorize_string(FIELDS).encode() == vectors.message


def test_scope_org_sits_between_scope_and_timestamp() -> None:
    fields = SecretFields(client_id="C", scope="S", scope_org="O", timestamp="T", state="X", redirect_uri="R")
    assert authorize_string(fields) == "CSOTXR"


def test_token_string_appends_the_code(vectors) -> None:
    assert token_string(FIELDS, "code-123").encode() == vectors.message + b"code-123"


def test_refresh_string_variants() -> None:
    fields = SecretFields(client_id="C", scope="S", scope_org="O", timestamp="T", state="X", redirect_uri="R")
    assert refresh_string(fields, "RT", RefreshSecret.AUTHORIZE_FIELDS) == "CSOTXR"
    assert refresh_string(fields, "RT", RefreshSecret.WITH_REFRESH_TOKEN) == "CSTXRT"
    assert RefreshSecret("with_refresh_token") is RefreshSecret.WITH_REFRESH_TOKEN  # settable from config


def test_esia_timestamp_format() -> None:
    assert esia_timestamp(datetime(2026, 11, 25, 12, 0, 0, tzinfo=MSK)) == "2026.11.25 12:00:00 +0300"
    assert esia_timestamp(datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2026.01.02 03:04:05 +0000"
    assert esia_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=5, minutes=30)))).endswith(
        " -0530"
    )


def test_esia_timestamp_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        esia_timestamp(datetime(2026, 11, 25, 12, 0, 0))


def test_client_secret_vector_decodes_to_the_signature(vectors) -> None:
    assert decode_secret(vectors.client_secret) == vectors.signature
    assert encode_secret(vectors.signature) == vectors.client_secret


@pytest.mark.parametrize(
    "encode",
    [
        base64.urlsafe_b64encode,  # padded
        base64.b64encode,  # standard alphabet, padded
        lambda raw: base64.b64encode(raw).rstrip(b"="),  # standard alphabet, unpadded
    ],
)
def test_decode_secret_accepts_what_clients_send(vectors, encode) -> None:
    assert decode_secret(encode(vectors.signature).decode()) == vectors.signature


@pytest.mark.parametrize("value", ["not base64!", "A", "ab$d"])
def test_decode_secret_refuses_garbage(value: str) -> None:
    with pytest.raises(ValueError, match="not base64"):
        decode_secret(value)


def test_client_secret_signs_the_message(gostcrypto_signer, certificate, vectors) -> None:
    secret = client_secret(gostcrypto_signer, authorize_string(FIELDS))
    assert "=" not in secret and "+" not in secret and "/" not in secret and len(secret) == 86
    assert verify(certificate, vectors.message, decode_secret(secret))


async def test_client_secret_async_signs_the_message(gostcrypto_signer, certificate) -> None:
    message = token_string(FIELDS, "code-Ж")  # non-ASCII: signed as UTF-8
    secret = await client_secret_async(gostcrypto_signer, message)
    assert verify(certificate, message.encode("utf-8"), decode_secret(secret))
