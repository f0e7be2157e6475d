"""Dates and times as a doctor types them, in Russian or English.

Words («завтра», «25 декабря», «tomorrow», «Dec 25», «в пятницу») go to ``dateparser``; numeric
forms are checked here first, so an impossible date (31 February) is named as such instead of a
vague "not understood".
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import dateparser

from services.errors import N_, DomainError

LANGUAGES = ["ru", "en"]
MAX_INPUT = 40
# A date without a year that is further back than this is taken as next year's (typed in December
# about January); a nearer one is a past date and refused where the past is not allowed.
ROLL_OVER = timedelta(days=60)

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?")
_DAY_AND_WORD = re.compile(r"(\d{1,2})\s+([^\W\d_]+)\.?(?:\s+(\d{4}))?(?:\s*г\.?)?", re.IGNORECASE)
_TIME = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)")
_TIME_RANGE = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)\s*[-–—]\s*([01]?\d|2[0-4])[:.]([0-5]\d)")


class DateInputError(DomainError):
    """What the doctor typed is not a usable date; the message says what to send."""


def _no_such_date() -> DateInputError:
    return DateInputError(N_("There is no such date in the calendar (for example, 31 February). Check the day and month."))


def _not_understood() -> DateInputError:
    return DateInputError(
        N_("I could not read the date. Send it like this: 25.12, 25 декабря, завтра, tomorrow or 2026-12-25.")
    )


def _past() -> DateInputError:
    return DateInputError(N_("That date has already passed. Choose today or a later day."))


def _make(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _no_such_date() from None


def parse_day(text: str, today: date, *, allow_past: bool = True) -> date:
    """The day the doctor meant, relative to ``today`` (the clinic's local date)."""
    value = " ".join(text.strip().split())
    if not value:
        raise _not_understood()
    if len(value) > MAX_INPUT:
        raise _not_understood()
    result: date | None = None
    if match := _ISO.fullmatch(value):
        result = _make(int(match[1]), int(match[2]), int(match[3]))
    elif match := _NUMERIC.fullmatch(value):
        day, month = int(match[1]), int(match[2])
        if match[3] is not None:
            year = int(match[3])
            result = _make(year + 2000 if year < 100 else year, month, day)
        else:
            result = _make(today.year, month, day) if not (month == 2 and day == 29) else None
            if result is None:  # 29 February: this year or the next leap one
                year = today.year
                while True:
                    try:
                        result = date(year, 2, 29)
                        break
                    except ValueError:
                        year += 1
            if result < today - ROLL_OVER:
                result = _make(result.year + 1, month, day)
    else:
        base = datetime.combine(today, time(12, 0))
        settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY"}
        parsed = dateparser.parse(value, languages=LANGUAGES, settings=settings)
        if parsed is None:
            # «31 февраля» has the shape of a date: say it does not exist rather than "not understood".
            if _DAY_AND_WORD.fullmatch(value):
                raise _no_such_date()
            raise _not_understood()
        result = parsed.date()
    if not allow_past and result < today:
        raise _past()
    return result


def parse_time(text: str) -> time:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise DateInputError(N_("Send the time as hours and minutes, for example 09:30."))
    return time(int(match[1]), int(match[2]))


def parse_time_range(text: str) -> tuple[time, time]:
    """«09:00-15:00» (also with a dot or a long dash); the end must be after the start."""
    match = _TIME_RANGE.fullmatch(text.strip())
    if match is None:
        raise DateInputError(N_("Send the period as start and end, for example 09:00-15:00."))
    start = time(int(match[1]), int(match[2]))
    end_hour = int(match[3])
    end = time(23, 59) if end_hour == 24 else time(end_hour, int(match[4]))
    if end <= start:
        raise DateInputError(N_("The end of the period must be later than its start."))
    return start, end
