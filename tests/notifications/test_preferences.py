"""Quiet hours, kinds turned off and silent routine messages: the recipient's preferences applied
by the sender (the pure rules here; through the emulator in test_delivery_preferences)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.notifications.preferences import RecipientPreferences, quiet_period_end

VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # UTC+10, no DST
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # 00:30 local on the 16th: inside 22:00–08:00, ends 08:00 local = 22:00 UTC on the 15th.
        (datetime(2025, 1, 15, 14, 30, tzinfo=UTC), datetime(2025, 1, 15, 22, 0, tzinfo=UTC)),
        # 23:00 local on the 15th: ends the next morning.
        (datetime(2025, 1, 15, 13, 0, tzinfo=UTC), datetime(2025, 1, 15, 22, 0, tzinfo=UTC)),
        # 08:00 local sharp: the window is over.
        (datetime(2025, 1, 15, 22, 0, tzinfo=UTC), None),
        # 12:00 local: not quiet.
        (datetime(2025, 1, 15, 2, 0, tzinfo=UTC), None),
    ],
)
def test_a_window_across_midnight(utc: datetime, expected: datetime | None) -> None:
    assert quiet_period_end(utc, time(22), time(8), VLADIVOSTOK) == expected


def test_a_window_within_a_day_and_an_empty_one() -> None:
    afternoon = datetime(2025, 1, 15, 4, 0, tzinfo=UTC)  # 14:00 in Vladivostok
    assert quiet_period_end(afternoon, time(13), time(15), VLADIVOSTOK) == datetime(2025, 1, 15, 5, 0, tzinfo=UTC)
    assert quiet_period_end(afternoon, time(15), time(17), VLADIVOSTOK) is None
    assert quiet_period_end(afternoon, time(9), time(9), VLADIVOSTOK) is None


def test_the_end_is_local_wall_time_across_a_dst_change() -> None:
    # The night of 29–30 March 2025 Berlin moves from +01:00 to +02:00: 07:00 local is 05:00 UTC.
    night = datetime(2025, 3, 29, 23, 30, tzinfo=UTC)
    end = quiet_period_end(night, time(22), time(7), BERLIN)
    assert end == datetime(2025, 3, 30, 5, 0, tzinfo=UTC)
    assert end.astimezone(BERLIN).time() == time(7)


def test_preferences_turned_off_are_never_quiet() -> None:
    prefs = RecipientPreferences(quiet_enabled=False, quiet_start=time(0), quiet_end=time(23, 59))
    assert prefs.quiet_until(datetime(2025, 1, 15, 12, tzinfo=UTC)) is None
