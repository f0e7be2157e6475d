"""СНИЛС: normalisation, check digits and the usual `XXX-XXX-XXX YY` spelling.

The check number is the sum of the nine digits weighted 9..1, reduced modulo 101 (100 and 101
give 00). It is only defined for numbers above 001-001-998; smaller ones carry no checksum.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s-]")
MIN_CHECKED = 1001998


class SnilsError(ValueError):
    pass


def check_number(first_nine: str) -> int:
    total = sum(int(digit) * (9 - i) for i, digit in enumerate(first_nine))
    if total < 100:
        return total
    rest = total % 101
    return 0 if rest == 100 else rest


def normalize(value: str) -> str:
    """The 11 digits of a SNILS given with or without separators; SnilsError if malformed."""
    digits = _SEPARATORS.sub("", value.strip())
    if len(digits) != 11 or not digits.isdigit():
        raise SnilsError("SNILS must be 11 digits (separators '-' and spaces allowed)")
    if int(digits[:9]) > MIN_CHECKED and check_number(digits[:9]) != int(digits[9:]):
        raise SnilsError("SNILS check number does not match")
    return digits


def is_valid(value: str) -> bool:
    try:
        normalize(value)
    except SnilsError:
        return False
    return True


def formatted(value: str) -> str:
    digits = normalize(value)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"
