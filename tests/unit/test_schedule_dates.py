"""Dates as doctors type them, in Russian and English; impossible and past dates refused clearly."""

from __future__ import annotations

from datetime import date, time

import pytest

from services.schedule.dates import DateInputError, parse_day, parse_time, parse_time_range

TODAY = date(2026, 12, 10)  # a Thursday


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("завтра", date(2026, 12, 11)),
        ("Послезавтра", date(2026, 12, 12)),
        ("сегодня", TODAY),
        ("25.12", date(2026, 12, 25)),
        ("25/12", date(2026, 12, 25)),
        ("25.12.2026", date(2026, 12, 25)),
        ("25.12.26", date(2026, 12, 25)),
        ("25 декабря", date(2026, 12, 25)),
        ("  25   декабря  ", date(2026, 12, 25)),
        ("tomorrow", date(2026, 12, 11)),
        ("Dec 25", date(2026, 12, 25)),
        ("25 December", date(2026, 12, 25)),
        ("2026-12-25", date(2026, 12, 25)),
        ("05.01", date(2027, 1, 5)),  # January typed in December: next year's
        ("1 января", date(2027, 1, 1)),
        ("29.02", date(2028, 2, 29)),  # the next 29 February
    ],
)
def test_common_forms(typed: str, expected: date) -> None:
    assert parse_day(typed, TODAY, allow_past=False) == expected


@pytest.mark.parametrize("typed", ["31.02", "31 февраля", "30 february", "2026-02-31", "32.12", "12.13"])
def test_impossible_dates_are_named_so(typed: str) -> None:
    with pytest.raises(DateInputError) as error:
        parse_day(typed, TODAY)
    assert error.value.message_id.startswith("There is no such date")


@pytest.mark.parametrize("typed", ["", "абракадабра", "когда-нибудь", "🙂", "x" * 100])
def test_nonsense_is_not_understood(typed: str) -> None:
    with pytest.raises(DateInputError) as error:
        parse_day(typed, TODAY)
    assert error.value.message_id.startswith("I could not read the date")


@pytest.mark.parametrize("typed", ["вчера", "09.12", "yesterday", "2025-12-25", "25.12.2025"])
def test_the_past_is_refused_where_it_is_not_allowed(typed: str) -> None:
    with pytest.raises(DateInputError) as error:
        parse_day(typed, TODAY, allow_past=False)
    assert error.value.message_id.startswith("That date has already passed")
    assert parse_day(typed, TODAY) < TODAY  # viewing a past day is fine


def test_times() -> None:
    assert parse_time("9:30") == time(9, 30)
    assert parse_time_range("09:00-15:00") == (time(9), time(15))
    assert parse_time_range("8.00 — 12.30") == (time(8), time(12, 30))
    for bad in ("25:00", "9", "noon"):
        with pytest.raises(DateInputError):
            parse_time(bad)
    with pytest.raises(DateInputError, match="later than its start"):
        parse_time_range("15:00-09:00")


def test_local_days_across_clock_changes_and_zones() -> None:
    from datetime import UTC, datetime, timedelta

    from services.schedule.service import local_day_bounds

    # Russia has kept its clocks since 2014; earlier, 28 March 2010 was 23 hours long in Moscow
    # and 31 October 2010 25 hours: a "day" is always local midnight to local midnight.
    start, end = local_day_bounds(date(2010, 3, 28), "Europe/Moscow")
    assert (start, end - start) == (datetime(2010, 3, 27, 21, tzinfo=UTC), timedelta(hours=23))
    start, end = local_day_bounds(date(2010, 10, 31), "Europe/Moscow")
    assert end - start == timedelta(hours=25)
    # The same calendar day begins 9 hours apart in Vladivostok (UTC+10) and Kaliningrad (UTC+2).
    vvo, _ = local_day_bounds(date(2026, 12, 11), "Asia/Vladivostok")
    kgd, _ = local_day_bounds(date(2026, 12, 11), "Europe/Kaliningrad")
    assert (vvo, kgd) == (datetime(2026, 12, 10, 14, tzinfo=UTC), datetime(2026, 12, 10, 22, tzinfo=UTC))
