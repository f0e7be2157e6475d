"""The ESIA emulator, driven by a minimal ESIA client written here from the protocol description
(gostcrypto for the GOST signature, joserfc for the tokens), sharing no code with the emulator
or the application: a misreading on either side shows up as a failure."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import secrets
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from gostcrypto import gosthash, gostsignature
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry
from yarl import URL

from emulators.common import snils
from emulators.esia import EsiaEmulator, RegisteredClient
from emulators.esia.gost import GostPublicKey, certificate_hash, decode_signature

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "esia-emulator"
CLIENT_ID = "MEDCAB01"
REDIRECT = "http://127.0.0.1:8080/auth/esia/callback"
ISSUER = "http://esia-portal1.test.gosuslugi.ru/"
MSK = datetime.timezone(datetime.timedelta(hours=3))
CURVE = gostsignature.CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-2012-256-paramSetB"]
IVANOV_OID = 1000400001


# --- the test's own ESIA client ------------------------------------------------------------------


def _private_key() -> int:
    """The scalar from client.key: PKCS#8 whose last 32 bytes are the key, little-endian."""
    lines = (FIXTURES / "client.key").read_text().strip().splitlines()
    der = base64.b64decode("".join(lines[1:-1]))
    return int.from_bytes(der[-32:], "little")


PRIVATE_KEY = _private_key()
CERT_DER = (FIXTURES / "client.der").read_bytes()
CERT_HASH = (FIXTURES / "cert_hash.txt").read_text().strip()


def streebog(data: bytes) -> bytes:
    return bytes(gosthash.new("streebog256", data=bytearray(data)).digest())


def gost_sign(text: str) -> bytes:
    """Raw signature in OpenSSL/ESIA order: digest read little-endian, output s‖r."""
    digest = bytearray(streebog(text.encode())[::-1])
    signer = gostsignature.new(gostsignature.MODE_256, CURVE)
    r_s = bytes(signer.sign(bytearray(PRIVATE_KEY.to_bytes(32, "big")), digest))
    return r_s[32:] + r_s[:32]


def gost_verify(public_x: int, public_y: int, data: bytes, signature: bytes) -> bool:
    digest = bytearray(streebog(data)[::-1])
    verifier = gostsignature.new(gostsignature.MODE_256, CURVE)
    public = bytearray(public_x.to_bytes(32, "big") + public_y.to_bytes(32, "big"))
    return bool(verifier.verify(public, digest, bytearray(signature[32:] + signature[:32])))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def timestamp(moment: datetime.datetime | None = None) -> str:
    return (moment or datetime.datetime.now(MSK)).strftime("%Y.%m.%d %H:%M:%S %z")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


class Client:
    def __init__(self, emu: EsiaEmulator, http: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.http = http

    def timestamp(self) -> str:
        """Now, as the client's clock says; tests that move the emulator's clock move this one too."""
        return timestamp(datetime.datetime.fromtimestamp(self.emu.clock.time(), MSK))

    def authorize_params(
        self,
        scope: str = "openid fullname snils",
        *,
        redirect_uri: str = REDIRECT,
        access_type: str = "online",
        challenge: str | None = None,
        signed: str | None = None,
        **overrides: str | None,
    ) -> dict[str, str]:
        params = {
            "client_id": CLIENT_ID,
            "client_certificate_hash": CERT_HASH,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "response_type": "code",
            "state": str(uuid.uuid4()),
            "timestamp": self.timestamp(),
            "access_type": access_type,
        }
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        params.update({k: v for k, v in overrides.items() if v is not None})
        if "client_secret" not in params:
            text = signed
            if text is None:
                text = "".join(
                    params.get(n, "") for n in ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri")
                )
            params["client_secret"] = b64url(gost_sign(text))
        for key in [k for k, v in overrides.items() if v is None]:
            params.pop(key, None)  # dropped after signing: a request that lacks it
        return params

    async def authorize(self, params: dict[str, str], **extra: str) -> aiohttp.ClientResponse:
        query = urlencode({**params, **extra})  # '+' in the timestamp becomes %2B
        url = URL(f"{self.emu.base_url}/aas/oauth2/v2/ac?{query}", encoded=True)
        async with self.http.get(url, allow_redirects=False) as response:
            await response.read()
            return response

    async def authorize_redirect(self, params: dict[str, str], **extra: str) -> dict[str, str]:
        response = await self.authorize(params, **extra)
        assert response.status == 302, await response.text()
        location = response.headers["Location"]
        assert location.startswith(params["redirect_uri"])
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    async def code_for(self, persona: str = "ivanov", **kwargs: Any) -> tuple[str, dict[str, str]]:
        self.emu.queue_outcome(persona)
        params = self.authorize_params(**kwargs)
        result = await self.authorize_redirect(params)
        assert "code" in result, result
        assert result["state"] == params["state"]
        return result["code"], params

    def token_form(
        self, code: str, auth: dict[str, str], *, verifier: str | None = None, **overrides: str | None
    ) -> dict[str, str]:
        form = {
            "client_id": CLIENT_ID,
            "code": code,
            "grant_type": "authorization_code",
            "client_certificate_hash": CERT_HASH,
            "redirect_uri": auth["redirect_uri"],
            "scope": auth["scope"],
            "state": str(uuid.uuid4()),  # a new one, not the authorize state
            "timestamp": self.timestamp(),
            "token_type": "Bearer",
        }
        if verifier:
            form["code_verifier"] = verifier
        form.update({k: v for k, v in overrides.items() if v is not None})
        if "client_secret" not in form:
            signed = "".join(
                form.get(n, "")
                for n in ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri", "code")
            )
            form["client_secret"] = b64url(gost_sign(signed))
        for key in [k for k, v in overrides.items() if v is None]:
            form.pop(key, None)
        return form

    async def token(self, form: dict[str, str]) -> tuple[int, Any]:
        async with self.http.post(f"{self.emu.base_url}/aas/oauth2/v3/te", data=form) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except json.JSONDecodeError:
                return response.status, text

    async def tokens_for(self, persona: str = "ivanov", **kwargs: Any) -> dict[str, Any]:
        code, auth = await self.code_for(persona, **kwargs)
        form = self.token_form(code, auth)
        status, body = await self.token(form)
        assert status == 200, body
        assert body["state"] == form["state"]
        return body

    async def person(self, path: str, token: str | None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(f"{self.emu.base_url}/rs/prns/{path}", headers=headers) as response:
            return response.status, await response.json()


async def rsa_key(emu: EsiaEmulator, http: aiohttp.ClientSession) -> RSAKey:
    """The RS256 key from the emulator's published certificate, as a client would load it."""
    async with http.get(f"{emu.base_url}/public/esia.pem") as response:
        certificate = x509.load_pem_x509_certificate(await response.read())
    pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RSAKey.import_key(pem)


ESIA_JWS = JWSRegistry(algorithms=["RS256"], strict_check_header=False)  # ESIA headers carry ver and sbt


def verify_rs256(token: str, key: RSAKey) -> tuple[dict[str, Any], dict[str, Any]]:
    decoded = jwt.decode(token, key, algorithms=["RS256"], registry=ESIA_JWS)
    return dict(decoded.header), dict(decoded.claims)


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(head + "==")),
        json.loads(base64.urlsafe_b64decode(body + "==")),
    )


def error_of(location: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(location).query)
    return query["error"][0], query["error_description"][0]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
async def esia() -> AsyncIterator[EsiaEmulator]:
    emulator = EsiaEmulator()
    await emulator.start(port=0)
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def web_client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def client(esia: EsiaEmulator, web_client: aiohttp.ClientSession) -> Client:
    return Client(esia, web_client)


async def control(http: aiohttp.ClientSession, emu: EsiaEmulator, verb: str, path: str, body: Any = None) -> Any:
    async with http.request(verb, f"{emu.base_url}/_emulator{path}", json=body) as response:
        data = await response.json()
        assert response.status == 200, data
        return data.get("result")


# --- the GOST vectors ----------------------------------------------------------------------------


def test_verifier_accepts_the_openssl_vector_and_nothing_else() -> None:
    message = (FIXTURES / "message.txt").read_bytes()
    signature = (FIXTURES / "signature.bin").read_bytes()
    key = GostPublicKey.from_certificate(CERT_DER)
    assert key.verify(message, signature)
    assert not key.verify(message + b" ", signature)
    assert not key.verify(message, signature[32:] + signature[:32])  # r‖s is the wrong order
    assert certificate_hash(CERT_DER) == CERT_HASH
    secret = (FIXTURES / "client_secret.txt").read_text().strip()
    assert decode_signature(secret) == signature
    assert decode_signature(secret + "==") == signature
    assert decode_signature(base64.b64encode(signature).decode()) == signature


def test_own_signer_is_verified_by_the_emulator_verifier() -> None:
    key = GostPublicKey.from_certificate(CERT_DER)
    assert key.verify(b"hello", gost_sign("hello"))


async def test_vector_request_is_accepted_by_a_fresh_emulator(web_client: aiohttp.ClientSession) -> None:
    # message.txt = client_id + scope + timestamp + state + redirect_uri, scope_org empty.
    message = (FIXTURES / "message.txt").read_text()
    stamp = "2026.11.25 12:00:00 +0300"
    state = "c0ffee00-0000-4000-8000-000000000000"
    redirect = "https://bot.example/auth/esia/callback"
    assert message == f"{CLIENT_ID}openid fullname snils{stamp}{state}{redirect}"
    emu = EsiaEmulator(redirect_uris=[redirect])
    emu.clock.set(datetime.datetime(2026, 11, 25, 12, 0, 30, tzinfo=MSK).timestamp())
    emu.sign_in_as("ivanov")
    await emu.start(port=0)
    try:
        params = {
            "client_id": CLIENT_ID,
            "client_certificate_hash": CERT_HASH,
            "client_secret": (FIXTURES / "client_secret.txt").read_text().strip(),
            "redirect_uri": redirect,
            "scope": "openid fullname snils",
            "response_type": "code",
            "state": state,
            "timestamp": stamp,
            "access_type": "online",
        }
        result = await Client(emu, web_client).authorize_redirect(params)
        assert result["state"] == state and result["code"]
    finally:
        await emu.stop()


# --- the happy path ------------------------------------------------------------------------------


async def test_full_flow_authorize_token_person_logout(
    esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession
) -> None:
    esia.sign_in_as("ivanov")
    verifier, challenge = pkce_pair()
    auth = client.authorize_params("openid fullname snils", challenge=challenge)
    redirect = await client.authorize_redirect(auth)
    assert redirect["state"] == auth["state"]
    form = client.token_form(redirect["code"], auth, verifier=verifier)
    status, body = await client.token(form)
    assert status == 200, body
    assert set(body) == {"access_token", "id_token", "state", "token_type", "expires_in"}  # online: no refresh
    assert body["state"] == form["state"] != auth["state"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600

    key = await rsa_key(esia, web_client)
    _, access = verify_rs256(body["access_token"], key)
    _, id_claims = verify_rs256(body["id_token"], key)
    assert access["urn:esia:sbj_id"] == id_claims["sub"] == IVANOV_OID

    status, person = await client.person(str(IVANOV_OID), body["access_token"])
    assert status == 200
    assert person["lastName"] == "Иванов" and person["firstName"] == "Сергей"
    assert person["middleName"] == "Александрович"
    assert snils.is_valid(person["snils"])
    assert person["trusted"] is True and person["status"] == "REGISTERED" and person["verifying"] is False
    assert {"updatedOn", "eTag"} <= set(person)
    assert "birthDate" not in person and "gender" not in person and "inn" not in person  # not in scope
    status, _ = await client.person(f"{IVANOV_OID}/ctts", body["access_token"])
    assert status == 403  # no contact scope

    url = URL(f"{esia.base_url}/idp/ext/Logout").with_query(
        client_id=CLIENT_ID, redirect_url="http://localhost:8080/bye"
    )
    async with web_client.get(url, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "http://localhost:8080/bye"
    assert [entry.client_id for entry in esia.logouts] == [CLIENT_ID]
    assert esia.logouts[0].ended_sids == [access["urn:esia:sid"]]
    assert not any(s.active for s in esia.sessions)
    endpoints = [c.endpoint for c in esia.calls.records]
    assert endpoints == ["authorize", "token", "public", "person", "person", "logout"]


async def test_token_header_and_claims_exactly(
    esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession
) -> None:
    esia.clock.set(1_800_000_000)
    body = await client.tokens_for("ivanov", scope="openid fullname snils")
    key = await rsa_key(esia, web_client)
    access_header, access = verify_rs256(body["access_token"], key)
    id_header, claims = verify_rs256(body["id_token"], key)
    assert list(access_header.items()) == [("ver", 1), ("typ", "JWT"), ("sbt", "access"), ("alg", "RS256")]
    assert list(id_header.items()) == [("ver", 1), ("typ", "JWT"), ("sbt", "id"), ("alg", "RS256")]
    sid = access["urn:esia:sid"]
    iat = access["iat"]
    assert abs(iat - 1_800_000_000) <= 2
    assert access == {
        "nbf": iat,
        "scope": f"fullname?oid={IVANOV_OID} snils?oid={IVANOV_OID} openid",
        "iss": ISSUER,
        "urn:esia:sid": sid,
        "urn:esia:sbj_id": IVANOV_OID,
        "exp": iat + 3600,
        "iat": iat,
        "client_id": CLIENT_ID,
    }
    assert claims == {
        "amr": "PWD",
        "sub": IVANOV_OID,
        "auth_time": claims["auth_time"],
        "iss": ISSUER,
        "urn:esia:amd": "PWD",
        "urn:esia:sid": sid,
        "urn:esia:sbj": {
            "urn:esia:sbj:typ": "P",
            "urn:esia:sbj:oid": IVANOV_OID,
            "urn:esia:sbj:nam": f"OID.{IVANOV_OID}",
            "urn:esia:sbj:lvl": "PR",
            "urn:esia:sbj:is_tru": True,
        },
        "aud": CLIENT_ID,
        "nbf": iat,
        "exp": iat + 3600,
        "iat": iat,
    }
    assert iat - 5 <= claims["auth_time"] <= iat


async def test_sign_in_page_persona_picker_and_cancel(client: Client, web_client: aiohttp.ClientSession) -> None:
    async def open_page() -> tuple[dict[str, str], str]:
        params = client.authorize_params()
        url = URL(f"{client.emu.base_url}/aas/oauth2/v2/ac?{urlencode(params)}", encoded=True)
        async with web_client.get(url, allow_redirects=False) as response:
            assert response.status == 200 and response.content_type == "text/html"
            return params, await response.text()

    def rid_of(page: str) -> str:
        return page.split('name="rid" value="')[1].split('"')[0]

    auth, page = await open_page()
    assert "Иванов Сергей Александрович" in page and "Отмена" in page and "СНИЛС" in page
    assert "src=" not in page and "<link" not in page and "<script" not in page  # self-contained
    async with web_client.post(
        f"{client.emu.base_url}/idp/signin", data={"rid": rid_of(page), "persona": "petrova"}, allow_redirects=False
    ) as chosen:
        assert chosen.status == 302
        query = parse_qs(urlsplit(chosen.headers["Location"]).query)
    assert query["code"][0] and query["state"] == [auth["state"]]

    auth, page = await open_page()
    async with web_client.post(
        f"{client.emu.base_url}/idp/signin", data={"rid": rid_of(page), "action": "cancel"}, allow_redirects=False
    ) as cancelled:
        assert cancelled.status == 302
        location = cancelled.headers["Location"]
    assert error_of(location) == (
        "access_denied",
        "ESIA-007004: The resource owner or authorization server denied the request.",
    )
    assert parse_qs(urlsplit(location).query)["state"] == [auth["state"]]


async def test_persona_query_param_only_when_enabled(esia: EsiaEmulator, client: Client) -> None:
    response = await client.authorize(client.authorize_params(), _emulator_persona="ivanov")
    assert response.status == 200  # ignored: the page is shown
    esia.allow_persona_param = True
    result = await client.authorize_redirect(client.authorize_params(), _emulator_persona="ivanov")
    assert "code" in result


async def test_signature_encodings_all_accepted(esia: EsiaEmulator, client: Client) -> None:
    esia.sign_in_as("ivanov")
    for encode in (
        lambda s: b64url(s),
        lambda s: base64.urlsafe_b64encode(s).decode(),
        lambda s: base64.b64encode(s).decode(),
    ):
        params = client.authorize_params()
        signed = "".join(
            params.get(n, "") for n in ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri")
        )
        params["client_secret"] = encode(gost_sign(signed))
        assert "code" in await client.authorize_redirect(params)


# --- authorize checks, in ESIA's order ------------------------------------------------------------


async def test_unknown_client_gets_an_html_page(client: Client) -> None:
    response = await client.authorize(client.authorize_params(client_id="NOSUCH"))
    assert response.status == 400 and "Location" not in response.headers
    assert response.content_type == "text/html"


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://evil.example/cb", "http://127.0.0.2:8080/cb", "https://127.0.0.1:8080/cb", "http://user@localhost/cb"],
)
async def test_redirect_not_allowed_gets_an_html_page_never_a_redirect(client: Client, redirect_uri: str) -> None:
    response = await client.authorize(client.authorize_params(redirect_uri=redirect_uri))
    assert response.status == 400 and "Location" not in response.headers
    assert "ESIA-007023" in await response.text()


async def test_extra_redirect_uris_are_configurable(web_client: aiohttp.ClientSession) -> None:
    emu = EsiaEmulator(redirect_uris=["https://bot.example/cb", "https://other.example/esia/*"])
    emu.sign_in_as("ivanov")
    async with emu:
        c = Client(emu, web_client)
        for uri in ("https://bot.example/cb", "https://other.example/esia/x", "http://localhost:1/cb"):
            assert "code" in await c.authorize_redirect(c.authorize_params(redirect_uri=uri))
        response = await c.authorize(c.authorize_params(redirect_uri="https://bot.example/cb2"))
        assert response.status == 400


async def authorize_error(client: Client, params: dict[str, str]) -> tuple[str, str]:
    response = await client.authorize(params)
    assert response.status == 302, await response.text()
    location = response.headers["Location"]
    assert location.startswith(params["redirect_uri"])
    if params.get("state"):
        assert parse_qs(urlsplit(location).query)["state"] == [params["state"]]
    return error_of(location)


async def test_missing_parameters_are_named(client: Client) -> None:
    params = client.authorize_params(client_secret=None, timestamp=None)
    error, description = await authorize_error(client, params)
    assert error == "invalid_request"
    assert description.startswith("ESIA-007014:") and description.endswith("[client_secret, timestamp].")


async def test_missing_certificate_hash_is_007014(client: Client) -> None:
    _, description = await authorize_error(client, client.authorize_params(client_certificate_hash=None))
    assert description.startswith("ESIA-007014:") and "[client_certificate_hash]" in description


@pytest.mark.parametrize(
    ("scope", "error", "code"),
    [("openid fullname passport_scan", "invalid_scope", "007006"), ("", "invalid_request", "007013")],
)
async def test_scope_checks(client: Client, scope: str, error: str, code: str) -> None:
    params = client.authorize_params(scope)
    if not scope:
        params["scope"] = ""
    got_error, description = await authorize_error(client, params)
    assert got_error == error and description.startswith(f"ESIA-{code}:")


async def test_supported_scopes(esia: EsiaEmulator, client: Client) -> None:
    esia.sign_in_as("ivanov")
    scope = "openid fullname snils birthdate gender email mobile id_doc"
    assert "code" in await client.authorize_redirect(client.authorize_params(scope))


async def test_timestamp_out_of_tolerance_is_007015(esia: EsiaEmulator, client: Client) -> None:
    old = datetime.datetime.now(MSK) - datetime.timedelta(seconds=esia.settings.timestamp_tolerance + 60)
    error, description = await authorize_error(client, client.authorize_params(timestamp=timestamp(old)))
    assert (error, description[:12]) == ("invalid_request", "ESIA-007015:")


async def test_unencoded_plus_in_timestamp_is_007015(client: Client) -> None:
    params = client.authorize_params()
    query = urlencode(params).replace("%2B", "+")  # a client that forgot to encode '+'
    async with client.http.get(
        URL(f"{client.emu.base_url}/aas/oauth2/v2/ac?{query}", encoded=True), allow_redirects=False
    ) as response:
        assert error_of(response.headers["Location"])[1].startswith("ESIA-007015:")


async def test_certificate_hash_of_pem_text_is_007002(client: Client) -> None:
    pem_hash = streebog((FIXTURES / "client.pem").read_bytes()).hex().upper()
    error, description = await authorize_error(client, client.authorize_params(client_certificate_hash=pem_hash))
    assert (error, description[:12]) == ("invalid_client", "ESIA-007002:")


async def test_lower_case_certificate_hash_is_refused(client: Client) -> None:
    _, description = await authorize_error(client, client.authorize_params(client_certificate_hash=CERT_HASH.lower()))
    assert description.startswith("ESIA-007002:")


async def test_signature_over_a_tampered_string_is_007053(client: Client) -> None:
    params = client.authorize_params()
    tampered = f"{CLIENT_ID}openid fullname{params['timestamp']}{params['state']}{params['redirect_uri']}"
    params["client_secret"] = b64url(gost_sign(tampered))
    error, description = await authorize_error(client, params)
    assert description.startswith("ESIA-007053:") and error == "invalid_client"


async def test_garbage_secret_is_007053(client: Client) -> None:
    _, description = await authorize_error(client, client.authorize_params(client_secret="not-a-signature!"))
    assert description.startswith("ESIA-007053:")


async def test_pkce_plain_is_refused(client: Client) -> None:
    params = client.authorize_params(code_challenge="a" * 43, code_challenge_method="plain")
    _, description = await authorize_error(client, params)
    assert description.startswith("ESIA-007003:") and "S256" in description


async def test_non_uuid_state_is_007003(client: Client) -> None:
    _, description = await authorize_error(client, client.authorize_params(state="12345"))
    assert description.startswith("ESIA-007003:")


async def test_checks_run_in_order(client: Client) -> None:
    # Bad scope, bad timestamp and bad hash at once: the scope is reported first.
    params = client.authorize_params(
        "openid bogus", timestamp="2001.01.01 00:00:00 +0300", client_certificate_hash="00"
    )
    assert (await authorize_error(client, params))[1].startswith("ESIA-007006:")
    params = client.authorize_params(timestamp="2001.01.01 00:00:00 +0300", client_certificate_hash="00")
    assert (await authorize_error(client, params))[1].startswith("ESIA-007015:")
    params = client.authorize_params(client_certificate_hash="00", client_secret="AAAA")
    assert (await authorize_error(client, params))[1].startswith("ESIA-007002:")


# --- token endpoint ------------------------------------------------------------------------------


async def test_code_is_single_use(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    assert (await client.token(client.token_form(code, auth)))[0] == 200
    status, body = await client.token(client.token_form(code, auth))
    assert status == 400
    assert body["error"] == "invalid_grant" and body["error_description"].startswith("ESIA-007011:")


async def test_pkce_mismatch_is_007040(client: Client) -> None:
    _, challenge = pkce_pair()
    code, auth = await client.code_for("ivanov", challenge=challenge)
    status, body = await client.token(client.token_form(code, auth, verifier=pkce_pair()[0]))
    assert status == 400 and body["error_description"].startswith("ESIA-007040:")


async def test_pkce_verifier_without_challenge_is_007039(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    status, body = await client.token(client.token_form(code, auth, verifier=pkce_pair()[0]))
    assert status == 400 and body["error_description"].startswith("ESIA-007039:")


async def test_token_json_body_is_007014(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    form = client.token_form(code, auth)
    async with client.http.post(f"{client.emu.base_url}/aas/oauth2/v3/te", json=form) as response:
        body = await response.json()
    assert response.status == 400 and body["error"] == "invalid_request"
    assert body["error_description"].startswith("ESIA-007014:") and "[client_id, code," in body["error_description"]


async def test_unknown_grant_type_is_007012(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    status, body = await client.token(client.token_form(code, auth, grant_type="password"))
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    assert body["error_description"].startswith("ESIA-007012:")


async def test_token_signature_must_cover_the_code(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    form = client.token_form(code, auth)
    signed = "".join(form[n] for n in ("client_id", "scope", "timestamp", "state", "redirect_uri"))  # no code
    form["client_secret"] = b64url(gost_sign(signed))
    status, body = await client.token(form)
    assert status == 400 and body["error_description"].startswith("ESIA-007053:")
    assert body["state"] == form["state"]


async def test_token_missing_certificate_hash_is_named(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    status, body = await client.token(client.token_form(code, auth, client_certificate_hash=None))
    assert status == 400
    assert (
        body["error_description"].startswith("ESIA-007014:")
        and "[client_certificate_hash]" in body["error_description"]
    )


async def test_code_bound_to_redirect_uri_and_scope(client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    form = client.token_form(code, auth, redirect_uri="http://127.0.0.1:9999/other")
    assert (await client.token(form))[1]["error_description"].startswith("ESIA-007011:")
    code, auth = await client.code_for("ivanov")
    form = client.token_form(code, {**auth, "scope": "openid fullname"})
    assert (await client.token(form))[1]["error_description"].startswith("ESIA-007011:")


async def test_code_expires(esia: EsiaEmulator, client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    esia.clock.advance(esia.settings.code_ttl + 1)
    form = client.token_form(code, auth)
    status, body = await client.token(form)
    assert status == 400 and body["error_description"].startswith("ESIA-007011:")


async def test_code_bound_to_client(esia: EsiaEmulator, client: Client) -> None:
    esia.add_client(RegisteredClient("OTHER01", CERT_DER))
    code, auth = await client.code_for("ivanov")
    form = client.token_form(code, auth, client_id="OTHER01")
    status, body = await client.token(form)
    assert status == 400 and body["error_description"].startswith("ESIA-007011:")


async def test_offline_access_gives_a_rotating_refresh_token(client: Client) -> None:
    body = await client.tokens_for("ivanov", access_type="offline")
    refresh = body["refresh_token"]

    def refresh_form(token: str) -> dict[str, str]:
        form = {
            "client_id": CLIENT_ID,
            "refresh_token": token,
            "grant_type": "refresh_token",
            "client_certificate_hash": CERT_HASH,
            "scope": "openid fullname snils",
            "state": str(uuid.uuid4()),
            "timestamp": client.timestamp(),
            "token_type": "Bearer",
            "redirect_uri": REDIRECT,
        }
        signed = form["client_id"] + form["scope"] + form["timestamp"] + form["state"] + token
        form["client_secret"] = b64url(gost_sign(signed))
        return form

    status, renewed = await client.token(refresh_form(refresh))
    assert status == 200, renewed
    assert renewed["refresh_token"] != refresh and renewed["access_token"]
    status, again = await client.token(refresh_form(refresh))
    assert status == 400 and again["error_description"].startswith("ESIA-007011:")


# --- personas --------------------------------------------------------------------------------------


async def test_personas_are_listed_with_unique_oids_and_valid_snils(
    esia: EsiaEmulator, web_client: aiohttp.ClientSession
) -> None:
    personas = await control(web_client, esia, "GET", "/personas")
    assert len(personas) >= 10
    assert len({p["oid"] for p in personas}) == len(personas)
    with_snils = [p["snils"] for p in personas if p["snils"]]
    assert len(set(with_snils)) == len(with_snils) and all(snils.is_valid(s) for s in with_snils)
    by_key = {p["key"]: p for p in personas}
    assert by_key["ivanov"]["full_name"] == by_key["ivanov_namesake"]["full_name"] == "Иванов Сергей Александрович"
    assert by_key["ivanov"]["oid"] != by_key["ivanov_namesake"]["oid"]
    assert by_key["kuznetsova"]["snils"] is None


async def test_unconfirmed_account_has_no_is_tru(client: Client) -> None:
    body = await client.tokens_for("sidorov")
    subject = unverified(body["id_token"])[1]["urn:esia:sbj"]
    assert "urn:esia:sbj:is_tru" not in subject and subject["urn:esia:sbj:lvl"] == "P"
    oid = subject["urn:esia:sbj:oid"]
    status, person = await client.person(str(oid), body["access_token"])
    assert status == 200 and person["trusted"] is False


async def test_declining_persona_gets_access_denied(client: Client) -> None:
    client.emu.queue_outcome("nikitina")
    error, description = error_of((await client.authorize(client.authorize_params())).headers["Location"])
    assert (error, description[:12]) == ("access_denied", "ESIA-007004:")


async def test_blocked_persona_is_refused(client: Client) -> None:
    client.emu.queue_outcome("smirnov")
    error, description = error_of((await client.authorize(client.authorize_params())).headers["Location"])
    assert (error, description[:12]) == ("access_denied", "ESIA-007055:")


async def test_confirmed_only_client_refuses_unconfirmed(esia: EsiaEmulator, client: Client) -> None:
    esia.clients[CLIENT_ID].confirmed_only = True
    esia.queue_outcome("sidorov")
    assert error_of((await client.authorize(client.authorize_params())).headers["Location"])[1].startswith(
        "ESIA-007055:"
    )


async def test_deleted_verifying_and_simplified_accounts(client: Client) -> None:
    scope = "openid fullname snils"
    deleted = await client.tokens_for("fedorov", scope=scope)
    oid = unverified(deleted["access_token"])[1]["urn:esia:sbj_id"]
    assert (await client.person(str(oid), deleted["access_token"]))[1]["status"] == "DELETED"
    verifying = await client.tokens_for("orlova", scope=scope)
    oid = unverified(verifying["access_token"])[1]["urn:esia:sbj_id"]
    person = (await client.person(str(oid), verifying["access_token"]))[1]
    assert person["verifying"] is True and person["trusted"] is False
    simplified = await client.tokens_for("kuznetsova", scope=scope)
    oid = unverified(simplified["access_token"])[1]["urn:esia:sbj_id"]
    person = (await client.person(str(oid), simplified["access_token"]))[1]
    assert "snils" not in person and person["lastName"] == "Кузнецова"


async def test_person_data_follows_scopes(client: Client) -> None:
    body = await client.tokens_for("ivanov", scope="openid fullname birthdate gender email mobile id_doc")
    token = body["access_token"]
    person = (await client.person(str(IVANOV_OID), token))[1]
    assert person["birthDate"] == "26.05.1980" and person["gender"] == "M" and "snils" not in person
    status, contacts = await client.person(f"{IVANOV_OID}/ctts", token)
    assert status == 200 and contacts["size"] == 2 and all(isinstance(e, str) for e in contacts["elements"])
    status, contacts = await client.person(f"{IVANOV_OID}/ctts?embed=(elements)", token)
    assert {e["type"] for e in contacts["elements"]} == {"EML", "MBT"}
    assert all(e["vrfStu"] == "VERIFIED" for e in contacts["elements"])
    status, docs = await client.person(f"{IVANOV_OID}/docs?embed=(elements)", token)
    assert status == 200 and docs["elements"][0]["type"] == "RF_PASSPORT"
    assert (await client.person(f"{IVANOV_OID}/addrs", token))[0] == 403


async def test_person_endpoint_token_checks(esia: EsiaEmulator, client: Client) -> None:
    token = (await client.tokens_for("ivanov"))["access_token"]
    assert (await client.person(str(IVANOV_OID), None))[0] == 401
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["urn:esia:sbj_id"] = 1000400002
    forged = f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert (await client.person("1000400002", forged))[0] == 401
    assert (await client.person("1000400002", token))[0] == 403
    esia.clock.advance(3601)
    assert (await client.person(str(IVANOV_OID), token))[0] == 401


# --- faults --------------------------------------------------------------------------------------


async def test_fault_html_500(esia: EsiaEmulator, client: Client) -> None:
    code, auth = await client.code_for("ivanov")
    esia.fail_next("token", "html500")
    status, body = await client.token(client.token_form(code, auth))
    assert status == 500 and isinstance(body, str) and "<html" in body
    call = esia.calls.filter("token")[-1]
    assert call.fault == "html500" and call.status == 500


async def test_fault_503_via_control_endpoint(
    esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession
) -> None:
    await control(web_client, esia, "POST", "/faults", {"endpoint": "token", "kind": "unavailable", "count": 2})
    code, auth = await client.code_for("ivanov")
    for _ in range(2):
        status, body = await client.token(client.token_form(code, auth))
        assert status == 503
        assert body["error"] == "temporarily_unavailable" and body["error_description"].startswith("ESIA-007008:")
    assert (await client.token(client.token_form(code, auth)))[0] == 200  # the code was never consumed


async def test_fault_slow_answer_past_the_client_timeout(
    esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession
) -> None:
    esia.fail_next("person", "slow", delay=2.0)
    token = (await client.tokens_for("ivanov"))["access_token"]
    with pytest.raises(asyncio.TimeoutError):
        async with web_client.get(
            f"{esia.base_url}/rs/prns/{IVANOV_OID}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass
    assert (await client.person(str(IVANOV_OID), token))[0] == 200


async def test_fault_rotated_signing_key(esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession) -> None:
    old_key = await rsa_key(esia, web_client)
    before = await client.tokens_for("ivanov")
    verify_rs256(before["id_token"], old_key)
    await control(web_client, esia, "POST", "/faults", {"kind": "rotate_key", "alg": "RS256"})
    after = await client.tokens_for("ivanov")
    with pytest.raises(BadSignatureError):
        verify_rs256(after["id_token"], old_key)
    verify_rs256(after["id_token"], await rsa_key(esia, web_client))
    keys = await control(web_client, esia, "GET", "/keys")
    assert len(keys["retired"]) == 1 and keys["retired"][0]["kid"] != keys["current"][0]["kid"]
    # Tokens issued before the rotation still work at ESIA's own endpoints.
    assert (await client.person(str(IVANOV_OID), before["access_token"]))[0] == 200


async def test_fault_skewed_clock(esia: EsiaEmulator, client: Client) -> None:
    esia.skew_token_clock(-7200)
    claims = unverified((await client.tokens_for("ivanov"))["id_token"])[1]
    assert abs(claims["iat"] - (esia.clock.time() - 7200)) < 5
    assert claims["exp"] < esia.clock.time()  # already expired for a client with a correct clock


async def test_gost_signed_tokens(esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession) -> None:
    esia.clients[CLIENT_ID].token_alg = "GOST3410_2012_256"
    body = await client.tokens_for("ivanov")
    keys = await control(web_client, esia, "GET", "/keys")
    jwk = next(k for k in keys["keys"] if k["alg"] == "GOST3410_2012_256")
    x = int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="), "big")
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
    for token, sbt in ((body["access_token"], "access"), (body["id_token"], "id")):
        head, payload, signature = token.split(".")
        assert unverified(token)[0] == {"ver": 1, "typ": "JWT", "sbt": sbt, "alg": "GOST3410_2012_256"}
        raw = base64.urlsafe_b64decode(signature + "==")
        assert gost_verify(x, y, f"{head}.{payload}".encode(), raw)
        assert not gost_verify(x, y, f"{head}.{payload}x".encode(), raw)
    assert (await client.person(str(IVANOV_OID), body["access_token"]))[0] == 200


async def test_faults_target_one_endpoint_and_count_down(esia: EsiaEmulator, client: Client) -> None:
    esia.fail_next("logout", "html500", count=1)
    esia.sign_in_as("ivanov")
    assert "code" in await client.authorize_redirect(client.authorize_params())  # not affected
    url = URL(f"{esia.base_url}/idp/ext/Logout").with_query(client_id=CLIENT_ID, redirect_url=REDIRECT)
    async with client.http.get(url, allow_redirects=False) as response:
        assert response.status == 500
    async with client.http.get(url, allow_redirects=False) as response:
        assert response.status == 302


# --- control API and standalone run ---------------------------------------------------------------


async def test_control_api(esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession) -> None:
    health = await control(web_client, esia, "GET", "/health")
    assert health["service"] == "esia" and health["clients"] == [CLIENT_ID]
    state = await control(web_client, esia, "POST", "/signin", {"next": ["cancel", "ivanov"]})
    assert state["next"] == ["cancel", "ivanov"]
    assert error_of((await client.authorize(client.authorize_params())).headers["Location"])[0] == "access_denied"
    assert "code" in await client.authorize_redirect(client.authorize_params())
    await control(web_client, esia, "POST", "/signin", {"auto_login": "petrova"})
    body = await client.tokens_for("petrova")
    assert unverified(body["id_token"])[1]["amr"] == "DS"
    added = await control(
        web_client,
        esia,
        "POST",
        "/clients",
        {"client_id": "CLINIC02", "certificate_pem": (FIXTURES / "client.pem").read_text(), "token_alg": "RS256"},
    )
    assert added["certificate_hash"] == CERT_HASH
    await control(web_client, esia, "POST", "/settings", {"issuer": "http://esia.gosuslugi.ru/"})
    assert unverified((await client.tokens_for("ivanov"))["access_token"])[1]["iss"] == "http://esia.gosuslugi.ru/"
    calls = await control(web_client, esia, "GET", "/calls?endpoint=token")
    assert calls and calls[-1]["form"]["grant_type"] == ["authorization_code"]
    await control(web_client, esia, "POST", "/reset")
    assert esia.settings.issuer == ISSUER and "CLINIC02" not in esia.clients and not esia.calls.records


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_standalone(module: str, web_client: aiohttp.ClientSession) -> dict[str, Any]:
    """Start `python -m <module> --port N`, wait for its first line, return its health."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
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
            health: dict[str, Any] = (await response.json())["result"]
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
    return health


async def test_standalone_process_answers_health(web_client: aiohttp.ClientSession) -> None:
    health = await run_standalone("emulators.esia", web_client)
    assert health["service"] == "esia" and health["status"] == "up"


async def test_sso_session_until_logout(esia: EsiaEmulator) -> None:
    # A browser-like client that keeps cookies for 127.0.0.1 (aiohttp refuses IP cookies by default).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        client = Client(esia, browser)
        response = await client.authorize(client.authorize_params())
        assert response.status == 200  # first visit: the sign-in page
        rid = next(iter(esia.grants.pending))
        async with browser.post(
            f"{esia.base_url}/idp/signin", data={"rid": rid, "persona": "ivanov"}, allow_redirects=False
        ) as chosen:
            assert chosen.status == 302
        result = await client.authorize_redirect(client.authorize_params())  # SSO: straight back
        assert "code" in result
        url = URL(f"{esia.base_url}/idp/ext/Logout").with_query(client_id=CLIENT_ID, redirect_url=REDIRECT)
        async with browser.get(url, allow_redirects=False) as response:
            assert response.status == 302
        assert len(esia.logouts[0].ended_sids) == 1
        assert (await client.authorize(client.authorize_params())).status == 200  # the page again


async def test_logout_checks_the_return_address(esia: EsiaEmulator, web_client: aiohttp.ClientSession) -> None:
    url = URL(f"{esia.base_url}/idp/ext/Logout").with_query(client_id=CLIENT_ID, redirect_url="https://evil.example/")
    async with web_client.get(url, allow_redirects=False) as response:
        assert response.status == 400 and "Location" not in response.headers
    assert not esia.logouts


async def test_persona_added_over_control_api(
    esia: EsiaEmulator, client: Client, web_client: aiohttp.ClientSession
) -> None:
    persona = {
        "key": "child",
        "oid": 1000499999,
        "last_name": "Петров",
        "first_name": "Илья",
        "middle_name": None,
        "snils": "236-914-780 95",
        "birth_date": "01.01.2015",
        "gender": "M",
        "level": "KD",
    }
    await control(web_client, esia, "POST", "/personas", persona)
    body = await client.tokens_for("child")
    subject = unverified(body["id_token"])[1]["urn:esia:sbj"]
    assert subject["urn:esia:sbj:lvl"] == "KD" and "urn:esia:sbj:is_tru" not in subject
    async with web_client.post(f"{esia.base_url}/_emulator/personas", json={**persona, "key": "dup"}) as response:
        assert response.status == 400  # the oid is taken
