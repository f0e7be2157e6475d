"""``EsiaClient`` against the ESIA emulator in-process, and against a tiny token endpoint of our own
for answers the emulator never gives (a wrong echoed state, missing tokens, mismatched subjects,
``expires_in`` as a string, a windows-1251 error page).

The client signs with the project's throwaway test key (``tests/fixtures/esia``), which is the
certificate the emulator's default system ``MEDCAB01`` is registered with.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from emulators.esia import EsiaEmulator
from emulators.esia.clients import RegisteredClient, default_certificate_der
from emulators.esia.signing_keys import RsaSigningKey
from services.identity.esia_client import EsiaClient, EsiaConfig, EsiaError, EsiaUnavailable, Pkce
from services.identity.esia_tokens import GOST, RS256, TokenKeys
from services.signing.signer import GostcryptoSigner
from tests.support.esia_tokens import CLIENT_ID, ISSUER, OID, access_claims, header, id_claims, rsa_public_pem, sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esia"
CALLBACK_PORT = 18080  # nothing listens there: the redirect is read, never followed
REDIRECT_URI = f"http://127.0.0.1:{CALLBACK_PORT}/auth/esia/callback"
IVANOV_OID = 1000400001
SIDOROV_OID = 1000400003


@pytest.fixture(scope="module")
def signer() -> GostcryptoSigner:
    return GostcryptoSigner.from_files(FIXTURES / "client.key", FIXTURES / "client.pem")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def emu() -> AsyncIterator[EsiaEmulator]:
    emulator = EsiaEmulator()
    await emulator.start(port=0)
    emulator.sign_in_as("ivanov")
    try:
        yield emulator
    finally:
        await emulator.stop()


async def published_rsa_key(emu: EsiaEmulator, http: aiohttp.ClientSession) -> bytes:
    """The RSA public key in the emulator's /public/esia.pem certificate, as bot/identity.py reads it."""
    async with http.get(f"{emu.base_url}/public/esia.pem") as response:
        assert response.status == 200
        certificate = x509.load_pem_x509_certificate(await response.read())
    return certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


async def published_gost_key(emu: EsiaEmulator, http: aiohttp.ClientSession) -> bytes:
    async with http.get(f"{emu.base_url}/public/esia-gost.pem") as response:
        assert response.status == 200
        return await response.read()


def make_client(
    base_url: str,
    keys: TokenKeys,
    signer: GostcryptoSigner,
    http: aiohttp.ClientSession,
    *,
    client_id: str = CLIENT_ID,
    timeout: float = 5.0,
    issuer: str = ISSUER,
) -> EsiaClient:
    config = EsiaConfig(
        base_url=base_url,
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        issuer=issuer,
        keys=keys,
        timeout=timeout,
    )
    return EsiaClient(config, signer, http)


@pytest.fixture
async def client(emu: EsiaEmulator, signer: GostcryptoSigner, http: aiohttp.ClientSession) -> EsiaClient:
    keys = TokenKeys(rsa_public_pems=[await published_rsa_key(emu, http)], algorithms=frozenset({RS256}))
    return make_client(emu.base_url, keys, signer, http)


async def authorize(client: EsiaClient, http: aiohttp.ClientSession) -> tuple[str, Pkce]:
    """Follow the authorize URL as a browser would (the emulator signs in automatically) and
    return the code from the redirect, with the PKCE pair it is bound to."""
    state, pkce = str(uuid.uuid4()), Pkce.new()
    url = await client.authorization_url(state, pkce)
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert "error" not in query, query
    assert query["state"] == [state]
    return query["code"][0], pkce


async def sign_in(client: EsiaClient, http: aiohttp.ClientSession) -> Any:
    code, pkce = await authorize(client, http)
    return await client.exchange_code(code, pkce.verifier)


# --- authorize -----------------------------------------------------------------------------------


async def test_authorization_url_is_accepted_and_redirects_back_with_code_and_state(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    state, pkce = str(uuid.uuid4()), Pkce.new()
    url = await client.authorization_url(state, pkce)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{emu.base_url}/aas/oauth2/v2/ac"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == "openid fullname snils"
    assert query["response_type"] == "code"
    assert query["access_type"] == "online"
    assert query["code_challenge"] == pkce.challenge and query["code_challenge_method"] == "S256"
    assert query["client_certificate_hash"] == (FIXTURES / "cert_hash.txt").read_text().strip().upper()
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    back = parse_qs(urlsplit(location).query)
    assert back["state"] == [state] and back["code"][0]
    assert emu.calls.filter("authorize")[-1].note == "code for ivanov"


# --- exchange and person data --------------------------------------------------------------------


async def test_exchange_code_gives_the_identity_and_the_person(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    before = datetime.now(UTC)
    identity = await sign_in(client, http)
    assert identity.oid == str(IVANOV_OID)
    assert identity.confirmed is True and identity.level == "PR"
    assert identity.sid
    assert before + timedelta(seconds=3590) < identity.expires_at < datetime.now(UTC) + timedelta(seconds=3610)
    # The /te request carried a fresh state (not the authorize one) and the PKCE verifier.
    form = emu.calls.filter("token")[-1].form
    assert form is not None and uuid.UUID(form["state"][0]).version == 4 and form["code_verifier"][0]
    person = await client.person(identity.oid, identity.access_token)
    assert (person.last_name, person.first_name, person.middle_name) == ("Иванов", "Сергей", "Александрович")
    assert person.snils == "112-233-445 95"
    assert person.trusted is True and person.status == "REGISTERED" and person.verifying is False
    assert person.oid == identity.oid
    assert {"firstName", "lastName", "snils", "trusted"} <= person.raw_fields
    assert "birthDate" not in person.raw_fields  # not in the scope: ESIA does not send it


async def test_an_unconfirmed_account_is_not_confirmed(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    emu.sign_in_as("sidorov")
    identity = await sign_in(client, http)
    assert identity.oid == str(SIDOROV_OID)
    assert identity.confirmed is False and identity.level == "P"  # no is_tru in the id_token
    person = await client.person(identity.oid, identity.access_token)
    assert person.trusted is False


async def test_a_reused_code_is_esia_007011(client: EsiaClient, http: aiohttp.ClientSession) -> None:
    code, pkce = await authorize(client, http)
    await client.exchange_code(code, pkce.verifier)
    with pytest.raises(EsiaError) as caught:
        await client.exchange_code(code, pkce.verifier)
    error = caught.value
    assert not isinstance(error, EsiaUnavailable)
    assert error.code == "ESIA-007011" and error.error == "invalid_grant" and error.status == 400


async def test_person_with_a_foreign_token_is_an_error(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    identity = await sign_in(client, http)
    with pytest.raises(EsiaError) as caught:
        await client.person("1000400002", identity.access_token)  # someone else's oid
    assert not isinstance(caught.value, EsiaUnavailable)
    assert caught.value.status == 403


def test_logout_url_uses_redirect_url(client: EsiaClient) -> None:
    url = client.logout_url("http://127.0.0.1:18080/bye")
    parts = urlsplit(url)
    assert parts.path == "/idp/ext/Logout"
    assert parse_qs(parts.query) == {"client_id": [CLIENT_ID], "redirect_url": ["http://127.0.0.1:18080/bye"]}


async def test_logout_url_is_accepted_by_the_emulator(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    await sign_in(client, http)
    async with http.get(client.logout_url("http://127.0.0.1:18080/bye"), allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "http://127.0.0.1:18080/bye"
    assert emu.logouts[-1].redirect_url == "http://127.0.0.1:18080/bye"
    assert emu.logouts[-1].ended_sids  # the session opened by the sign-in ended


# --- ESIA out of order ---------------------------------------------------------------------------


async def test_html_500_from_the_token_endpoint_is_unavailable(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    code, pkce = await authorize(client, http)
    emu.fail_next("token", "html500")
    with pytest.raises(EsiaUnavailable) as caught:
        await client.exchange_code(code, pkce.verifier)
    assert caught.value.status == 500 and caught.value.code is None


async def test_html_500_from_person_data_is_unavailable(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    identity = await sign_in(client, http)
    emu.fail_next("person", "html500")
    with pytest.raises(EsiaUnavailable):
        await client.person(identity.oid, identity.access_token)


async def test_503_with_007008_is_unavailable_with_its_code(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    code, pkce = await authorize(client, http)
    emu.fail_next("token", "unavailable")
    with pytest.raises(EsiaUnavailable) as caught:
        await client.exchange_code(code, pkce.verifier)
    assert caught.value.code == "ESIA-007008"
    assert caught.value.status == 503 and caught.value.error == "temporarily_unavailable"


async def test_a_slow_answer_past_the_timeout_is_unavailable(
    emu: EsiaEmulator, signer: GostcryptoSigner, http: aiohttp.ClientSession
) -> None:
    keys = TokenKeys(rsa_public_pems=[await published_rsa_key(emu, http)])
    impatient = make_client(emu.base_url, keys, signer, http, timeout=0.5)
    code, pkce = await authorize(impatient, http)
    emu.fail_next("token", "slow", delay=5.0)
    started = time.monotonic()
    with pytest.raises(EsiaUnavailable) as caught:
        await impatient.exchange_code(code, pkce.verifier)
    assert time.monotonic() - started < 3.0
    assert caught.value.error == "unavailable"


async def test_nobody_listening_is_unavailable(signer: GostcryptoSigner, http: aiohttp.ClientSession) -> None:
    server = FakeEsia(lambda form: web.Response(status=204))
    base_url = await server.start()
    await server.stop()  # the port is closed now
    client = make_client(base_url, TokenKeys(), signer, http, timeout=2.0)
    with pytest.raises(EsiaUnavailable):
        await client.exchange_code("code", "v" * 43)


# --- keys and clocks -----------------------------------------------------------------------------


async def test_rotated_key_works_when_both_keys_are_configured(
    emu: EsiaEmulator, signer: GostcryptoSigner, http: aiohttp.ClientSession
) -> None:
    old = await published_rsa_key(emu, http)
    emu.rotate_signing_key(RS256)
    new = await published_rsa_key(emu, http)
    assert new != old
    both = make_client(emu.base_url, TokenKeys(rsa_public_pems=[old, new]), signer, http)
    identity = await sign_in(both, http)
    assert identity.oid == str(IVANOV_OID)
    only_old = make_client(emu.base_url, TokenKeys(rsa_public_pems=[old]), signer, http)
    with pytest.raises(EsiaError) as caught:
        await sign_in(only_old, http)
    assert not isinstance(caught.value, EsiaUnavailable)
    assert caught.value.error == "invalid_token" and "signature" in caught.value.description


async def test_esia_clock_far_ahead_is_refused(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    emu.skew_token_clock(+600)
    with pytest.raises(EsiaError) as caught:
        await sign_in(client, http)
    assert caught.value.error == "invalid_token" and "not yet valid" in caught.value.description


async def test_esia_clock_slightly_ahead_is_within_the_leeway(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    emu.skew_token_clock(+30)
    assert (await sign_in(client, http)).oid == str(IVANOV_OID)


async def test_esia_clock_far_behind_gives_expired_tokens(
    emu: EsiaEmulator, client: EsiaClient, http: aiohttp.ClientSession
) -> None:
    emu.skew_token_clock(-3700)
    with pytest.raises(EsiaError) as caught:
        await sign_in(client, http)
    assert caught.value.error == "invalid_token" and "expired" in caught.value.description


async def test_another_issuer_is_refused(
    emu: EsiaEmulator, signer: GostcryptoSigner, http: aiohttp.ClientSession
) -> None:
    keys = TokenKeys(rsa_public_pems=[await published_rsa_key(emu, http)])
    production = make_client(emu.base_url, keys, signer, http, issuer="http://esia.gosuslugi.ru/")
    with pytest.raises(EsiaError) as caught:
        await sign_in(production, http)
    assert caught.value.error == "invalid_token" and "issuer" in caught.value.description


async def test_gost_signed_tokens(emu: EsiaEmulator, signer: GostcryptoSigner, http: aiohttp.ClientSession) -> None:
    emu.add_client(RegisteredClient("MEDCAB02", default_certificate_der(), token_alg=GOST))
    gost_keys = TokenKeys(gost_certificates=[await published_gost_key(emu, http)], algorithms=frozenset({GOST}))
    gost_client = make_client(emu.base_url, gost_keys, signer, http, client_id="MEDCAB02")
    identity = await sign_in(gost_client, http)
    assert identity.oid == str(IVANOV_OID) and identity.confirmed
    rsa_only = TokenKeys(rsa_public_pems=[await published_rsa_key(emu, http)], algorithms=frozenset({RS256}))
    rsa_client = make_client(emu.base_url, rsa_only, signer, http, client_id="MEDCAB02")
    with pytest.raises(EsiaError) as caught:
        await sign_in(rsa_client, http)
    assert caught.value.error == "invalid_token" and "GOST3410_2012_256" in caught.value.description


# --- answers the emulator does not give: a token endpoint of our own ----------------------------


Responder = Callable[[dict[str, str]], web.Response]


class FakeEsia:
    """``POST /aas/oauth2/v3/te`` answering whatever ``respond(form)`` builds; port 0."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.forms: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.forms.append(form)
        return self.respond(form)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/aas/oauth2/v3/te", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


ESIA_KEY = RsaSigningKey.default()


def token_body(
    form: dict[str, str], access: dict[str, Any] | None = None, identity: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "access_token": sign(header("access"), access or access_claims(now), ESIA_KEY),
        "id_token": sign(header("id"), identity or id_claims(now), ESIA_KEY),
        "state": form.get("state"),
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    for name, value in fields.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


@pytest.fixture
async def fake(signer: GostcryptoSigner, http: aiohttp.ClientSession) -> AsyncIterator[tuple[FakeEsia, EsiaClient]]:
    server = FakeEsia(lambda form: web.json_response(token_body(form)))
    base_url = await server.start()
    keys = TokenKeys(rsa_public_pems=[rsa_public_pem(ESIA_KEY)], algorithms=frozenset({RS256}))
    try:
        yield server, make_client(base_url, keys, signer, http, timeout=2.0)
    finally:
        await server.stop()


async def test_fake_endpoint_baseline(fake: tuple[FakeEsia, EsiaClient]) -> None:
    server, client = fake
    identity = await client.exchange_code("some-code", "v" * 43)
    assert identity.oid == str(OID) and identity.confirmed
    assert server.forms[-1]["code"] == "some-code" and server.forms[-1]["grant_type"] == "authorization_code"


@pytest.mark.parametrize("state", ["other", None, str(uuid.uuid4()), 42])
async def test_a_different_echoed_state_is_an_error(state: Any, fake: tuple[FakeEsia, EsiaClient]) -> None:
    server, client = fake
    server.respond = lambda form: web.json_response({**token_body(form), "state": state})
    with pytest.raises(EsiaError) as caught:
        await client.exchange_code("code", "v" * 43)
    assert not isinstance(caught.value, EsiaUnavailable)
    assert caught.value.error == "invalid_response" and "state" in caught.value.description


@pytest.mark.parametrize(
    "missing",
    [
        {"access_token": None, "id_token": None},
        {"id_token": None},
        {"access_token": None},
        {"id_token": 12345},
        {"access_token": ["a.b.c"]},
    ],
    ids=["no tokens", "no id_token", "no access_token", "id_token a number", "access_token a list"],
)
async def test_a_response_without_tokens_is_an_error(
    missing: dict[str, Any], fake: tuple[FakeEsia, EsiaClient]
) -> None:
    server, client = fake

    def respond(form: dict[str, str]) -> web.Response:
        body = token_body(form)
        for name, value in missing.items():
            if value is None:
                del body[name]
            else:
                body[name] = value
        return web.json_response(body)

    server.respond = respond
    with pytest.raises(EsiaError) as caught:
        await client.exchange_code("code", "v" * 43)
    assert not isinstance(caught.value, EsiaUnavailable)
    assert caught.value.error == "invalid_response" and "tokens missing" in caught.value.description


async def test_id_token_subject_differing_from_the_access_token_is_invalid_token(
    fake: tuple[FakeEsia, EsiaClient],
) -> None:
    server, client = fake
    now = int(time.time())
    server.respond = lambda form: web.json_response(token_body(form, identity=id_claims(now, sub=1000400002)))
    with pytest.raises(EsiaError) as caught:
        await client.exchange_code("code", "v" * 43)
    assert caught.value.error == "invalid_token" and "subject" in caught.value.description


async def test_subjects_compare_as_strings(fake: tuple[FakeEsia, EsiaClient]) -> None:
    server, client = fake
    now = int(time.time())
    server.respond = lambda form: web.json_response(token_body(form, identity=id_claims(now, sub=str(OID))))
    assert (await client.exchange_code("code", "v" * 43)).oid == str(OID)


@pytest.mark.parametrize(("expires_in", "lifetime"), [("1800", 1800), (1800, 1800), (None, 3600), ("soon", 3600)])
async def test_expires_in_as_a_number_or_a_string(
    expires_in: Any, lifetime: int, fake: tuple[FakeEsia, EsiaClient]
) -> None:
    server, client = fake
    server.respond = lambda form: web.json_response(token_body(form, expires_in=expires_in))
    identity = await client.exchange_code("code", "v" * 43)
    expected = datetime.now(UTC) + timedelta(seconds=lifetime)
    assert abs((identity.expires_at - expected).total_seconds()) < 10


@pytest.mark.parametrize("expires_in", ["1e400", "10" + "0" * 30], ids=["infinity", "huge"])
async def test_an_absurd_expires_in_falls_back_to_an_hour(expires_in: str, fake: tuple[FakeEsia, EsiaClient]) -> None:
    server, client = fake

    def respond(form: dict[str, str]) -> web.Response:
        # Raw JSON: 1e400 reads as float("inf"), a 31-digit integer overflows a timedelta.
        text = json.dumps(token_body(form, expires_in=3600)).replace(
            '"expires_in": 3600', f'"expires_in": {expires_in}'
        )
        return web.Response(text=text, content_type="application/json")

    server.respond = respond
    identity = await client.exchange_code("code", "v" * 43)
    assert abs((identity.expires_at - datetime.now(UTC)).total_seconds() - 3600) < 10


@pytest.mark.parametrize(
    "response",
    [
        lambda: web.Response(
            status=500,
            body="<html><h1>Ошибка сервера</h1></html>".encode("cp1251"),
            headers={"Content-Type": "text/html"},
        ),
        lambda: web.Response(
            status=500,
            body="<html>Ошибка</html>".encode("cp1251"),
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
        lambda: web.Response(status=200, text="<html>maintenance</html>", content_type="text/html"),
        lambda: web.Response(status=502, text="Bad Gateway"),
        lambda: web.json_response(["not", "an", "object"]),
        lambda: web.Response(status=200, text='{"access_token": ', content_type="application/json"),
    ],
    ids=["html500 cp1251", "html500 cp1251 labelled utf-8", "html200", "text502", "json list", "truncated json"],
)
async def test_answers_that_are_not_the_api_are_unavailable(
    response: Callable[[], web.Response], fake: tuple[FakeEsia, EsiaClient]
) -> None:
    server, client = fake
    server.respond = lambda form: response()
    with pytest.raises(EsiaUnavailable) as caught:
        await client.exchange_code("code", "v" * 43)
    assert caught.value.error == "unavailable"


async def test_a_json_400_is_an_error_with_its_code(fake: tuple[FakeEsia, EsiaClient]) -> None:
    server, client = fake
    description = "ESIA-007014: The request doesn't contain the mandatory parameter [client_certificate_hash]."
    server.respond = lambda form: web.json_response(
        {"error": "invalid_request", "error_description": description, "state": form["state"]}, status=400
    )
    with pytest.raises(EsiaError) as caught:
        await client.exchange_code("code", "v" * 43)
    assert not isinstance(caught.value, EsiaUnavailable)
    assert caught.value.code == "ESIA-007014" and caught.value.status == 400


async def test_server_error_in_json_is_unavailable(fake: tuple[FakeEsia, EsiaClient]) -> None:
    server, client = fake
    description = "ESIA-007007: The authorization server encountered an unexpected condition."
    server.respond = lambda form: web.json_response({"error": "server_error", "error_description": description})
    with pytest.raises(EsiaUnavailable) as caught:
        await client.exchange_code("code", "v" * 43)
    assert caught.value.code == "ESIA-007007"
