"""PIN for sensitive actions: a slow salted hash (scrypt), policy checks, constant-time comparison.

The PIN is short by design (typed on a phone between patients), so the hash must be slow and the
number of tries limited (the lockout lives in ``SessionService``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import os
import re

from services.errors import N_, DomainError

# scrypt with N=2**15, r=8, p=1: ~64 MiB·ops, about 0.1 s here — slow for a guesser, fine once.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 128 * _R * _N * 2
# ASCII digits only: \d also matches "２５８０" or "٢٥٨٠", which would never match a PIN typed as 2580.
PIN_PATTERN = re.compile(r"^[0-9]{4,6}$")


class PinRejected(DomainError):
    pass


def check_pin_policy(pin: str) -> str:
    """The PIN, stripped, if it is acceptable; PinRejected with the reason otherwise."""
    value = pin.strip()
    if not PIN_PATTERN.match(value):
        raise PinRejected(N_("A PIN is 4 to 6 digits. Send digits only."))
    digits = [int(c) for c in value]
    steps = {b - a for a, b in itertools.pairwise(digits)}
    if len(set(digits)) == 1 or steps in ({1}, {-1}):
        raise PinRejected(N_("This PIN is too easy to guess (like 1111 or 1234). Choose another one."))
    return value


def _hash(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM * 2, dklen=32)


def hash_pin(pin: str) -> str:
    salt = os.urandom(16)
    digest = _hash(pin, salt, _N, _R, _P)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _hash(pin, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


async def hash_pin_async(pin: str) -> str:
    return await asyncio.to_thread(hash_pin, pin)


async def verify_pin_async(pin: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_pin, pin, stored)
