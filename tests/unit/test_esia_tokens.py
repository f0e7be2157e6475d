"""Verification of ESIA's tokens (``services.identity.esia_tokens``) with crafted tokens.

Keys are the ESIA emulator's own signing keys (RS256 and GOST R 34.10-2012), so a token can be
exactly what ESIA sends or wrong in one chosen respect. Times are passed as ``now`` so every
leeway boundary is exact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from emulators.esia.signing_keys import GostSigningKey, RsaSigningKey, b64url
from services.identity.esia_tokens import (
    ClaimRules,
    TokenInvalid,
    TokenKeys,
    verify_access_token,
    verify_id_token,
    verify_signature,
)
from tests.support.esia_tokens import (
    CLIENT_ID,
    GOST,
    ISSUER,
    OID,
    RS256,
    access_claims,
    gost_certificate_pem,
    header,
    id_claims,
    part,
    rsa_public_pem,
    sign,
)

NOW = 1_700_000_000  # fixed, and in the past on any machine that runs this
RULES = ClaimRules(issuer=ISSUER, client_id=CLIENT_ID)


@pytest.fixture(scope="module")
def esia_key() -> RsaSigningKey:
    return RsaSigningKey.default()


@pytest.fixture(scope="module")
def rotated_key() -> RsaSigningKey:
    return RsaSigningKey.generate()


@pytest.fixture(scope="module")
def stranger_key() -> RsaSigningKey:
    return RsaSigningKey.generate()


@pytest.fixture(scope="module")
def gost_key() -> GostSigningKey:
    return GostSigningKey.default()


@pytest.fixture(scope="module")
def keys(esia_key: RsaSigningKey) -> TokenKeys:
    return TokenKeys(rsa_public_pems=[rsa_public_pem(esia_key)], algorithms=frozenset({RS256}))


def access_token(key: RsaSigningKey | GostSigningKey, alg: str = RS256, **changes: Any) -> str:
    return sign(header("access", alg), access_claims(NOW, **changes), key)


def id_token(key: RsaSigningKey | GostSigningKey, alg: str = RS256, **changes: Any) -> str:
    return sign(header("id", alg), id_claims(NOW, **changes), key)


def unsigned(head: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{part(head)}.{part(claims)}.{b64url(signature)}"


# --- the good case -------------------------------------------------------------------------------


def test_valid_rs256_tokens_pass(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    access = verify_access_token(access_token(esia_key), keys, RULES, now=NOW)
    assert access["urn:esia:sbj_id"] == OID and access["client_id"] == CLIENT_ID
    identity = verify_id_token(id_token(esia_key), keys, RULES, now=NOW)
    assert identity["sub"] == OID and identity["urn:esia:sbj"]["urn:esia:sbj:is_tru"] is True


def test_verify_signature_returns_the_claims(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    assert verify_signature(access_token(esia_key), keys) == access_claims(NOW)


def test_time_defaults_to_the_current_clock(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    # NOW is in the past: without ``now`` the token is checked against time.time() and has expired.
    with pytest.raises(TokenInvalid, match="expired"):
        verify_access_token(access_token(esia_key), keys, RULES)


# --- algorithms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(alg: str, keys: TokenKeys, esia_key: RsaSigningKey) -> None:
    claims = access_claims(NOW)
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify_access_token(unsigned({"alg": alg, "typ": "JWT"}, claims), keys, RULES, now=NOW)
    # Even a configuration that lists it does not make it acceptable.
    lenient = TokenKeys(rsa_public_pems=keys.rsa_public_pems, algorithms=frozenset({RS256, alg}))
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify_access_token(unsigned({"alg": alg}, claims), lenient, RULES, now=NOW)
    # Nor does a real signature after it.
    signed = sign({"alg": alg}, claims, esia_key)
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify_access_token(signed, lenient, RULES, now=NOW)


def hs256_with_public_key(esia_key: RsaSigningKey) -> str:
    """The classic confusion attack: HMAC keyed with the (public) RSA key the verifier holds."""
    signing_input = f"{part(header('access', 'HS256'))}.{part(access_claims(NOW))}"
    mac = hmac.new(rsa_public_pem(esia_key), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def test_hs256_signed_with_the_rsa_public_key_is_refused(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    token = hs256_with_public_key(esia_key)
    with pytest.raises(TokenInvalid, match="algorithm 'HS256' is not accepted"):
        verify_access_token(token, keys, RULES, now=NOW)
    # Listing HS256 by mistake still verifies nothing with it: only RS256 and GOST have verifiers.
    mistaken = TokenKeys(rsa_public_pems=keys.rsa_public_pems, algorithms=frozenset({RS256, "HS256"}))
    with pytest.raises(TokenInvalid, match="signature"):
        verify_access_token(token, mistaken, RULES, now=NOW)


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "EdDSA", "rs256", "GOST3410_2012_512"])
def test_other_algorithms_are_refused(alg: str, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    # Signed with the right key (PKCS#1 v1.5 SHA-256): only the header's alg differs.
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify_access_token(access_token(esia_key, alg=alg), keys, RULES, now=NOW)


@pytest.mark.parametrize("alg", [None, 256, ["RS256"], {"alg": "RS256"}, ""])
def test_alg_missing_or_not_a_string_is_refused(alg: Any, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    head: dict[str, Any] = {"typ": "JWT"} if alg is None else {"typ": "JWT", "alg": alg}
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify_signature(sign(head, access_claims(NOW), esia_key), keys)


def test_rs256_refused_when_only_gost_is_configured(esia_key: RsaSigningKey, gost_key: GostSigningKey) -> None:
    gost_only = TokenKeys(
        rsa_public_pems=[rsa_public_pem(esia_key)],
        gost_certificates=[gost_certificate_pem(gost_key)],
        algorithms=frozenset({GOST}),
    )
    with pytest.raises(TokenInvalid, match="algorithm 'RS256'"):
        verify_signature(access_token(esia_key), gost_only)


# --- keys ----------------------------------------------------------------------------------------


def test_signature_by_an_unknown_key_is_refused(stranger_key: RsaSigningKey, keys: TokenKeys) -> None:
    with pytest.raises(TokenInvalid, match="signature does not match"):
        verify_access_token(access_token(stranger_key), keys, RULES, now=NOW)
    with pytest.raises(TokenInvalid, match="signature does not match"):
        verify_id_token(id_token(stranger_key), keys, RULES, now=NOW)


def test_an_embedded_jwk_is_not_trusted(stranger_key: RsaSigningKey, keys: TokenKeys) -> None:
    head = {**header("access"), "jwk": stranger_key.jwk(), "kid": stranger_key.kid}
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(sign(head, access_claims(NOW), stranger_key), keys)


def test_tampered_claims_are_refused(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    head, _, signature = access_token(esia_key).split(".")
    forged = part(access_claims(NOW, **{"urn:esia:sbj_id": 1000400002}))
    with pytest.raises(TokenInvalid, match="signature"):
        verify_access_token(f"{head}.{forged}.{signature}", keys, RULES, now=NOW)


def test_a_token_by_the_rotated_key_passes_when_both_keys_are_configured(
    esia_key: RsaSigningKey, rotated_key: RsaSigningKey
) -> None:
    both = TokenKeys(rsa_public_pems=[rsa_public_pem(esia_key), rsa_public_pem(rotated_key)])
    assert verify_access_token(access_token(rotated_key), both, RULES, now=NOW)["urn:esia:sbj_id"] == OID
    assert verify_id_token(id_token(rotated_key), both, RULES, now=NOW)["sub"] == OID
    # ... and the old key's tokens still pass too, in either order of configuration.
    reversed_order = TokenKeys(rsa_public_pems=[rsa_public_pem(rotated_key), rsa_public_pem(esia_key)])
    assert verify_access_token(access_token(esia_key), reversed_order, RULES, now=NOW)
    only_old = TokenKeys(rsa_public_pems=[rsa_public_pem(esia_key)])
    with pytest.raises(TokenInvalid, match="signature"):
        verify_access_token(access_token(rotated_key), only_old, RULES, now=NOW)


def test_no_configured_key_refuses_everything(esia_key: RsaSigningKey) -> None:
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(access_token(esia_key), TokenKeys())


def test_a_key_that_does_not_load_is_skipped_not_raised(esia_key: RsaSigningKey, gost_key: GostSigningKey) -> None:
    # A GOST public key filed among the RSA ones (both are "BEGIN PUBLIC KEY"), or garbage: the
    # next key still verifies, and a token no key verifies is TokenInvalid, never a crypto error.
    junk = [gost_key.public_pem().encode(), b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", b"x"]
    keys = TokenKeys(rsa_public_pems=[*junk, rsa_public_pem(esia_key)])
    assert verify_access_token(access_token(esia_key), keys, RULES, now=NOW)
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(access_token(esia_key), TokenKeys(rsa_public_pems=junk))
    rsa_certificate = esia_key.certificate_pem().encode()  # an RSA certificate among the GOST ones
    gost_keys = TokenKeys(gost_certificates=[rsa_certificate, b"junk"], algorithms=frozenset({GOST}))
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(access_token(gost_key, alg=GOST), gost_keys)


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        "http://esia.gosuslugi.ru/",
        "https://esia-portal1.test.gosuslugi.ru/",  # ESIA's iss is http, and the exact string counts
        "http://esia-portal1.test.gosuslugi.ru",
        None,
    ],
)
def test_wrong_issuer_is_refused(issuer: str | None, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    with pytest.raises(TokenInvalid, match="issuer"):
        verify_access_token(access_token(esia_key, iss=issuer), keys, RULES, now=NOW)
    with pytest.raises(TokenInvalid, match="issuer"):
        verify_id_token(id_token(esia_key, iss=issuer), keys, RULES, now=NOW)


@pytest.mark.parametrize("aud", ["MEDCAB02", "medcab01", ["MEDCAB02"], [], None])
def test_id_token_for_another_audience_is_refused(aud: Any, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    with pytest.raises(TokenInvalid, match="another client"):
        verify_id_token(id_token(esia_key, aud=aud), keys, RULES, now=NOW)


def test_id_token_audience_may_be_a_list_naming_us(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    token = id_token(esia_key, aud=["OTHER", CLIENT_ID])
    assert verify_id_token(token, keys, RULES, now=NOW)["sub"] == OID


@pytest.mark.parametrize("client_id", ["MEDCAB02", [CLIENT_ID], None])
def test_access_token_for_another_client_is_refused(client_id: Any, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    with pytest.raises(TokenInvalid, match="another client"):
        verify_access_token(access_token(esia_key, client_id=client_id), keys, RULES, now=NOW)


def test_access_token_checks_client_id_not_aud(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    # An id_token (aud, no client_id) is not accepted where the access token is expected.
    with pytest.raises(TokenInvalid, match="another client"):
        verify_access_token(id_token(esia_key), keys, RULES, now=NOW)


@pytest.mark.parametrize(
    ("verify", "make", "subject"),
    [
        (verify_access_token, access_token, "urn:esia:sbj_id"),
        (verify_id_token, id_token, "sub"),
    ],
)
def test_a_token_without_a_subject_is_refused(verify: Any, make: Any, subject: str, esia_key: RsaSigningKey) -> None:
    keys = TokenKeys(rsa_public_pems=[rsa_public_pem(esia_key)])
    with pytest.raises(TokenInvalid, match="subject"):
        verify(make(esia_key, **{subject: None}), keys, RULES, now=NOW)


# --- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("verify", "make"), [(verify_access_token, access_token), (verify_id_token, id_token)])
def test_exp_within_the_leeway_passes_and_beyond_it_is_refused(verify: Any, make: Any, esia_key: RsaSigningKey) -> None:
    keys = TokenKeys(rsa_public_pems=[rsa_public_pem(esia_key)])
    token = make(esia_key, exp=NOW + 3600)
    for late in (1, 30, 59, 60):
        assert verify(token, keys, RULES, now=NOW + 3600 + late)
    for late in (61, 120, 86400):
        with pytest.raises(TokenInvalid, match="expired"):
            verify(token, keys, RULES, now=NOW + 3600 + late)


@pytest.mark.parametrize(("verify", "make"), [(verify_access_token, access_token), (verify_id_token, id_token)])
def test_nbf_within_the_leeway_passes_and_beyond_it_is_refused(verify: Any, make: Any, esia_key: RsaSigningKey) -> None:
    keys = TokenKeys(rsa_public_pems=[rsa_public_pem(esia_key)])
    for ahead in (1, 30, 59, 60):
        assert verify(make(esia_key, nbf=NOW + ahead), keys, RULES, now=NOW)
    for ahead in (61, 600):
        with pytest.raises(TokenInvalid, match="not yet valid"):
            verify(make(esia_key, nbf=NOW + ahead), keys, RULES, now=NOW)


def test_the_leeway_is_a_setting(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    strict = ClaimRules(issuer=ISSUER, client_id=CLIENT_ID, leeway=0)
    with pytest.raises(TokenInvalid, match="expired"):
        verify_access_token(access_token(esia_key), keys, strict, now=NOW + 3601)
    with pytest.raises(TokenInvalid, match="not yet valid"):
        verify_access_token(access_token(esia_key, nbf=NOW + 1), keys, strict, now=NOW)
    generous = ClaimRules(issuer=ISSUER, client_id=CLIENT_ID, leeway=300)
    assert verify_access_token(access_token(esia_key), keys, generous, now=NOW + 3600 + 299)


@pytest.mark.parametrize("exp", [None, "1780003600", True, float("nan"), float("inf"), [NOW + 3600]])
def test_exp_missing_or_not_a_finite_number_is_refused(exp: Any, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    # NaN and Infinity get through Python's json; a NaN exp compares False and would never expire.
    with pytest.raises(TokenInvalid, match="expired"):
        verify_access_token(access_token(esia_key, exp=exp), keys, RULES, now=NOW)


def test_exp_as_nan_literal_in_the_json_is_refused(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    text = json.dumps(access_claims(NOW)).replace(str(NOW + 3600), "NaN")
    signing_input = f"{part(header())}.{b64url(text.encode())}"
    token = f"{signing_input}.{b64url(esia_key.sign(signing_input.encode()))}"
    with pytest.raises(TokenInvalid, match="expired"):
        verify_access_token(token, keys, RULES, now=NOW)


@pytest.mark.parametrize("nbf", ["1780000000", float("nan"), float("-inf"), False])
def test_nbf_not_a_finite_number_is_refused(nbf: Any, esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    with pytest.raises(TokenInvalid, match="not yet valid"):
        verify_access_token(access_token(esia_key, nbf=nbf), keys, RULES, now=NOW)


def test_nbf_is_optional(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    # ESIA always sends nbf, but RFC 7519 makes it optional: its absence alone is no reason to refuse.
    assert verify_access_token(access_token(esia_key, nbf=None), keys, RULES, now=NOW)


# --- malformed tokens ----------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


GOOD_HEAD = _b64(b'{"alg":"RS256","typ":"JWT"}')
GOOD_BODY = _b64(b'{"exp":1}')
LIST_HEAD = _b64(b'["RS256"]')
STRING_HEAD = _b64(b'"RS256"')
NESTED_HEAD = _b64(b'{"a":' * 100_000)

MALFORMED = {
    "empty": "",
    "one part": GOOD_HEAD,
    "two parts": f"{GOOD_HEAD}.{GOOD_BODY}",
    "four parts": f"{GOOD_HEAD}.{GOOD_BODY}.AAAA.AAAA",
    "only dots": "..",
    "bad base64 header": f"@@@.{GOOD_BODY}.AAAA",
    "bad base64 claims": f"{GOOD_HEAD}.***.AAAA",
    "base64 of one char": f"A.{GOOD_BODY}.AAAA",
    "bad base64 signature": f"{GOOD_HEAD}.{GOOD_BODY}.A",
    "non-ascii header": f"{GOOD_HEAD}é.{GOOD_BODY}.AAAA",
    "non-ascii claims": f"{GOOD_HEAD}.{GOOD_BODY}я.AAAA",
    "non-ascii signature": f"{GOOD_HEAD}.{GOOD_BODY}.AAAAё",
    "header not JSON": f"{_b64(b'alg=RS256')}.{GOOD_BODY}.AAAA",
    "header not UTF-8": f"{_b64(bytes([0xFF, 0xFE, 0x7B]))}.{GOOD_BODY}.AAAA",
    "header a list": f"{LIST_HEAD}.{GOOD_BODY}.AAAA",
    "header a string": f"{STRING_HEAD}.{GOOD_BODY}.AAAA",
    "header null": f"{_b64(b'null')}.{GOOD_BODY}.AAAA",
    "claims a list": f"{GOOD_HEAD}.{_b64(b'[1,2]')}.AAAA",
    "claims a number": f"{GOOD_HEAD}.{_b64(b'42')}.AAAA",
    "claims empty": f"{GOOD_HEAD}..AAAA",
    "claims deeply nested": f"{GOOD_HEAD}.{_b64(b'[' * 100_000)}.AAAA",
    "header deeply nested": f"{NESTED_HEAD}.{GOOD_BODY}.AAAA",
}


@pytest.mark.parametrize("token", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_tokens_are_token_invalid_and_nothing_else(token: str, keys: TokenKeys) -> None:
    with pytest.raises(TokenInvalid):
        verify_signature(token, keys)
    with pytest.raises(TokenInvalid):
        verify_access_token(token, keys, RULES, now=NOW)
    with pytest.raises(TokenInvalid):
        verify_id_token(token, keys, RULES, now=NOW)


def test_damaged_real_tokens_are_token_invalid_and_nothing_else(esia_key: RsaSigningKey, keys: TokenKeys) -> None:
    """Every truncation and many one-character substitutions of a real token: refused with
    TokenInvalid (any other exception fails the test), never accepted with changed content."""
    token = access_token(esia_key)
    original = verify_signature(token, keys)
    candidates = {token[:cut] for cut in range(0, len(token), 3)}
    for position in range(0, len(token), 5):
        for replacement in ("A", "-", "_", "=", "+", "/", ".", "é", " "):
            candidates.add(token[:position] + replacement + token[position + 1 :])
    candidates.discard(token)
    accepted = 0
    for candidate in candidates:
        try:
            claims = verify_signature(candidate, keys)
        except TokenInvalid:
            continue
        # Lenient base64 may drop a stray character; whatever passes must mean the same thing.
        assert claims == original, candidate
        accepted += 1
    assert accepted < len(candidates) // 10


# --- GOST R 34.10-2012 --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gost_tokens(gost_key: GostSigningKey) -> tuple[str, str]:
    return access_token(gost_key, alg=GOST), id_token(gost_key, alg=GOST)


def test_gost_tokens_verify_against_the_emulator_key_certificate(
    gost_key: GostSigningKey, gost_tokens: tuple[str, str]
) -> None:
    keys = TokenKeys(gost_certificates=[gost_certificate_pem(gost_key)], algorithms=frozenset({GOST}))
    access, identity = gost_tokens
    assert verify_access_token(access, keys, RULES, now=NOW)["urn:esia:sbj_id"] == OID
    assert verify_id_token(identity, keys, RULES, now=NOW)["sub"] == OID


def test_gost_certificate_may_be_der_and_sit_beside_rsa_keys(
    esia_key: RsaSigningKey, gost_key: GostSigningKey, gost_tokens: tuple[str, str]
) -> None:
    pem = gost_certificate_pem(gost_key)
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    keys = TokenKeys(
        rsa_public_pems=[rsa_public_pem(esia_key)],
        gost_certificates=[der],
        algorithms=frozenset({RS256, GOST}),
    )
    assert verify_access_token(gost_tokens[0], keys, RULES, now=NOW)
    assert verify_access_token(access_token(esia_key), keys, RULES, now=NOW)


def test_gost_tokens_verify_against_the_published_public_key(
    gost_key: GostSigningKey, gost_tokens: tuple[str, str]
) -> None:
    # The emulator's /public/esia-gost.pem is a bare SubjectPublicKeyInfo, not a certificate.
    keys = TokenKeys(gost_certificates=[gost_key.public_pem().encode()], algorithms=frozenset({GOST}))
    assert verify_id_token(gost_tokens[1], keys, RULES, now=NOW)["sub"] == OID


def test_gost_tokens_are_refused_when_only_rs256_is_allowed(
    gost_key: GostSigningKey, gost_tokens: tuple[str, str]
) -> None:
    keys = TokenKeys(gost_certificates=[gost_certificate_pem(gost_key)], algorithms=frozenset({RS256}))
    with pytest.raises(TokenInvalid, match="algorithm 'GOST3410_2012_256' is not accepted"):
        verify_access_token(gost_tokens[0], keys, RULES, now=NOW)


def test_gost_token_by_another_gost_key_is_refused(gost_key: GostSigningKey) -> None:
    keys = TokenKeys(gost_certificates=[gost_certificate_pem(gost_key)], algorithms=frozenset({GOST}))
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(access_token(GostSigningKey.generate(), alg=GOST), keys)


def test_gost_header_with_an_rsa_signature_is_refused(esia_key: RsaSigningKey, gost_key: GostSigningKey) -> None:
    keys = TokenKeys(
        rsa_public_pems=[rsa_public_pem(esia_key)],
        gost_certificates=[gost_certificate_pem(gost_key)],
        algorithms=frozenset({RS256, GOST}),
    )
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(access_token(esia_key, alg=GOST), keys)
    # And the other way round: a GOST signature under an RS256 header.
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(access_token(gost_key, alg=RS256), keys)


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 64, b"\xff" * 64, b"\x01" * 63, b"\x01" * 65],
    ids=["empty", "zeros", "ones", "63 bytes", "65 bytes"],
)
def test_gost_malformed_signature_is_token_invalid(signature: bytes, gost_key: GostSigningKey) -> None:
    keys = TokenKeys(gost_certificates=[gost_certificate_pem(gost_key)], algorithms=frozenset({GOST}))
    with pytest.raises(TokenInvalid, match="signature"):
        verify_signature(unsigned(header("access", GOST), access_claims(NOW), signature), keys)
