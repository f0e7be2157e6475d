"""The PIN policy and its scrypt hash (``services.identity.pin``)."""

from __future__ import annotations

import base64

import pytest

from services.identity.pin import (
    PinRejected,
    check_pin_policy,
    hash_pin,
    hash_pin_async,
    verify_pin,
    verify_pin_async,
)

# --- policy --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["2580", "1357", "90210", "482913", "1010", "1243", "0987"])
def test_acceptable_pins(pin: str) -> None:
    assert check_pin_policy(pin) == pin


@pytest.mark.parametrize(
    ("raw", "stripped"),
    [(" 2580", "2580"), ("2580 ", "2580"), ("\t482913\n", "482913"), ("  1357  ", "1357")],
)
def test_leading_and_trailing_spaces_are_stripped(raw: str, stripped: str) -> None:
    assert check_pin_policy(raw) == stripped


@pytest.mark.parametrize(
    "pin", ["1111", "0000", "999999", "1234", "4321", "123456", "654321", "3456", "56789", "9876", "0123"]
)
def test_guessable_pins_are_rejected(pin: str) -> None:
    with pytest.raises(PinRejected) as caught:
        check_pin_policy(pin)
    assert "too easy" in caught.value.message_id


@pytest.mark.parametrize(
    "pin",
    [
        "",
        "   ",
        "123",  # 3 digits
        "1234567",  # 7 digits
        "25a0",
        "abcd",
        "2580x",
        "25 80",
        "25\t80",
        "2580\n1",
        "-2580",
        "+2580",
        "25.80",
        "２５８０",  # full-width digits: not what a PIN typed later as 2580 hashes to
        "٢٥٨٠",  # Arabic-Indic digits
        "²580",
    ],
)
def test_anything_but_4_to_6_ascii_digits_is_rejected(pin: str) -> None:
    with pytest.raises(PinRejected) as caught:
        check_pin_policy(pin)
    assert "4 to 6 digits" in caught.value.message_id


# --- hash ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_pin("2580")


def test_hash_format(stored: str) -> None:
    scheme, n, r, p, salt, digest = stored.split("$")
    assert scheme == "scrypt"
    assert (int(n), int(r), int(p)) == (2**15, 8, 1)
    assert len(base64.b64decode(salt, validate=True)) == 16
    assert len(base64.b64decode(digest, validate=True)) == 32
    assert "2580" not in stored


def test_verify_right_and_wrong(stored: str) -> None:
    assert verify_pin("2580", stored) is True
    assert verify_pin("2581", stored) is False
    assert verify_pin("", stored) is False
    assert verify_pin("25800", stored) is False


def test_two_hashes_of_one_pin_differ(stored: str) -> None:
    again = hash_pin("2580")
    assert again != stored
    assert again.split("$")[4] != stored.split("$")[4]  # the salt
    assert verify_pin("2580", again) and verify_pin("2580", stored)


def _corruptions(stored: str) -> dict[str, str]:
    scheme, n, r, p, salt, digest = stored.split("$")
    return {
        "empty": "",
        "garbage": "garbage",
        "only separators": "scrypt$$$$$",
        "too few fields": "$".join([scheme, n, r, p, salt]),
        "too many fields": stored + "$x",
        "another scheme": "$".join(["bcrypt", n, r, p, salt, digest]),
        "n not a number": "$".join([scheme, "many", r, p, salt, digest]),
        "n not a power of two": "$".join([scheme, "3", r, p, salt, digest]),
        "n zero": "$".join([scheme, "0", r, p, salt, digest]),
        "n negative": "$".join([scheme, "-32768", r, p, salt, digest]),
        "n absurd": "$".join([scheme, "9" * 40, r, p, salt, digest]),
        "r zero": "$".join([scheme, n, "0", p, salt, digest]),
        "r absurd": "$".join([scheme, n, "9" * 40, p, salt, digest]),
        "p zero": "$".join([scheme, n, r, "0", salt, digest]),
        "p absurd": "$".join([scheme, n, r, "9" * 40, salt, digest]),
        "memory too large": "$".join([scheme, str(2**40), r, p, salt, digest]),
        "salt not base64": "$".join([scheme, n, r, p, "é", digest]),
        "salt bad padding": "$".join([scheme, n, r, p, "abcde", digest]),
        "digest not base64": "$".join([scheme, n, r, p, salt, "ÿÿÿ"]),
        "digest truncated": "$".join([scheme, n, r, p, salt, digest[:12]]),
        "digest empty": "$".join([scheme, n, r, p, salt, ""]),
        "another pin's digest": "$".join([scheme, n, r, p, salt, base64.b64encode(b"\0" * 32).decode()]),
    }


def test_a_corrupted_stored_hash_verifies_false_without_raising(stored: str) -> None:
    for name, corrupted in _corruptions(stored).items():
        assert verify_pin("2580", corrupted) is False, name


async def test_async_variants(stored: str) -> None:
    fresh = await hash_pin_async("1357")
    assert fresh.startswith("scrypt$")
    assert await verify_pin_async("1357", fresh) is True
    assert await verify_pin_async("2580", fresh) is False
    assert await verify_pin_async("2580", "scrypt$broken") is False
