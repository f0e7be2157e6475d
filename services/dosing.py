"""Reading what a doctor types for a dose, a frequency, a duration or a quantity.

«2», «2 таблетки», «две таблетки», «½», «0,5» are one and the same kind of answer; zero, negative
and absurd values are refused with a message that says what is expected. Limits per unit are
deliberately generous: they catch a slip of the finger (200 tablets at once), not clinical choices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from services.errors import N_, DomainError

_WORDS = {
    "пол": Decimal("0.5"),
    "половина": Decimal("0.5"),
    "половину": Decimal("0.5"),
    "одна": Decimal(1),
    "один": Decimal(1),
    "одну": Decimal(1),
    "полторы": Decimal("1.5"),
    "полтора": Decimal("1.5"),
    "две": Decimal(2),
    "два": Decimal(2),
    "три": Decimal(3),
    "четыре": Decimal(4),
    "пять": Decimal(5),
    "шесть": Decimal(6),
    "семь": Decimal(7),
    "восемь": Decimal(8),
    "девять": Decimal(9),
    "десять": Decimal(10),
    "one": Decimal(1),
    "two": Decimal(2),
    "three": Decimal(3),
    "half": Decimal("0.5"),
}
_FRACTIONS = {"½": Decimal("0.5"), "¼": Decimal("0.25"), "¾": Decimal("0.75")}
_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?(?:/\d+)?)\s*(.*)$")
# Largest single dose per unit (a typo guard, not a clinical limit).
MAX_DOSE = {"таблетка": Decimal(10), "капсула": Decimal(10), "мл": Decimal(100), "доза": Decimal(10), "ЕД": Decimal(200)}
MAX_PER_DAY = 12
_UNITS_OF_TIME = {"год": 365, "года": 365, "лет": 365, "year": 365, "years": 365, "дн": 1, "сутки": 1,
                  "д": 1, "день": 1, "дня": 1, "дней": 1, "сут": 1, "суток": 1, "нед": 7, "неделя": 7, "недели": 7,
                  "недель": 7, "неделю": 7, "мес": 30, "месяц": 30, "месяца": 30, "месяцев": 30, "day": 1, "days": 1,
                  "week": 7, "weeks": 7, "month": 30, "months": 30}


class DosingError(DomainError):
    pass


def parse_amount(text: str) -> Decimal | None:
    """The leading number of ``text`` (digits, a fraction or a word); None if there is none."""
    value = text.strip().casefold().replace("ё", "е")
    if not value:
        return None
    if value[0] in _FRACTIONS:
        return _FRACTIONS[value[0]]
    match = _NUMBER.match(value)
    if match:
        number = match.group(1).replace(",", ".")
        try:
            if "/" in number:
                top, bottom = number.split("/")
                return Decimal(top) / Decimal(bottom) if Decimal(bottom) != 0 else None
            return Decimal(number)
        except (InvalidOperation, ArithmeticError):
            return None
    first = value.split()[0]
    return _WORDS.get(first)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True)
class Dose:
    amount: str  # decimal as text, e.g. "0.5"
    unit: str


def parse_dose(text: str, unit: str) -> Dose:
    amount = parse_amount(text)
    if amount is None:
        raise DosingError(N_("Send the dose as a number, for example: 1 or 0.5 or «две таблетки»."))
    if amount <= 0:
        raise DosingError(N_("The dose must be greater than zero."))
    limit = MAX_DOSE.get(unit, Decimal(10))
    if amount > limit:
        raise DosingError(N_("A single dose of {amount} {unit} looks like a typo: at most {limit}."),
                          amount=_plain(amount), unit=unit, limit=_plain(limit))
    return Dose(_plain(amount), unit)


def parse_times_per_day(text: str) -> int:
    amount = parse_amount(text)
    if amount is None or amount != amount.to_integral_value():
        raise DosingError(N_("Send how many times a day, as a whole number: for example, 2."))
    if amount <= 0:
        raise DosingError(N_("The number of times a day must be greater than zero."))
    if amount > MAX_PER_DAY:
        raise DosingError(N_("More than {limit} times a day looks like a typo."), limit=MAX_PER_DAY)
    return int(amount)


def parse_days(text: str, max_days: int) -> int:
    """«10», «10 дней», «2 недели», «месяц» → days; refused beyond what the form allows."""
    value = text.strip().casefold()
    amount = parse_amount(value)
    words = re.findall(r"[a-zа-я]+", value)
    unit_days = next((_UNITS_OF_TIME[w] for w in words if w in _UNITS_OF_TIME), None)
    if unit_days is None:
        if words and not (len(words) == 1 and words[0] in _WORDS):
            # «2 раза», «курс»: not a length of time; better to ask than to guess days.
            raise DosingError(N_("Send the course length in days, for example: 10 or «2 недели»."))
        unit_days = 1
    if amount is None and words and words[0] in _UNITS_OF_TIME:
        amount = Decimal(1)  # «месяц», «неделю»
    if amount is None or amount != amount.to_integral_value():
        raise DosingError(N_("Send the course length in days, for example: 10 or «2 недели»."))
    days = int(amount) * unit_days
    if days <= 0:
        raise DosingError(N_("The course must last at least one day."))
    if days > max_days:
        raise DosingError(N_("This prescription form allows a course of at most {limit} days."), limit=max_days)
    return days


def parse_quantity(text: str, max_quantity: int) -> int:
    amount = parse_amount(text)
    if amount is None or amount != amount.to_integral_value():
        raise DosingError(N_("Send the quantity as a whole number, for example: 30."))
    if amount <= 0:
        raise DosingError(N_("The quantity must be greater than zero."))
    if amount > max_quantity:
        raise DosingError(N_("At most {limit} can be prescribed at once."), limit=max_quantity)
    return int(amount)


def course_quantity(dose: Decimal, times_per_day: int, days: int) -> int:
    """What the course needs, rounded up to a whole unit: the suggested quantity."""
    total = dose * times_per_day * days
    return int(total.to_integral_value(rounding="ROUND_CEILING"))
