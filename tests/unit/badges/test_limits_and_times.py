"""Pure rules: time parsing, cycle boundaries, rolling windows, constraint validation, status."""

from __future__ import annotations

from datetime import datetime

import pytest

import foureyes.badges.limits as limits
import foureyes.badges.times as times
from foureyes.badges.rules import status_of
from foureyes.core.errors import AppError


def test_time_inputs_seconds_milliseconds_and_iso() -> None:
    assert times.parse(1738348865) == datetime(2025, 1, 31, 18, 41, 5)
    assert times.parse(1738348865000) == datetime(2025, 1, 31, 18, 41, 5)
    assert times.parse("2023-11-03T21:51:00.192Z") == datetime(2023, 11, 3, 21, 51, 0, 192000)
    assert times.parse("2023-11-03T23:51:00+02:00") == datetime(2023, 11, 3, 21, 51)
    assert times.parse("1738348865") == datetime(2025, 1, 31, 18, 41, 5)
    for bad in ("", "yesterday", True, None, [1]):
        with pytest.raises(times.TimeFormatError):
            times.parse(bad)
    assert times.epoch(datetime(2025, 1, 31, 18, 41, 5)) == 1738348865
    assert times.iso(datetime(2025, 1, 31, 18, 41, 5)) == "2025-01-31T18:41:05Z"
    assert times.never(datetime(2026, 1, 1)).year == 2126
    assert times.add_months(datetime(2026, 1, 31), 1) == datetime(2026, 2, 28)


def test_weekly_cycles_turn_on_the_start_day() -> None:
    # The documented example: a badge from Monday 25 Sep 2023 → 25 Sep–1 Oct, 2–8 Oct, 9–15 Oct …
    lim = limits.limits_of(
        {"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 1, "durationType": "WEEKLY",
         "startDayOfTheWeek": 1}, "CUSTOMER",
    )[0]  # fmt: skip
    start = datetime(2023, 9, 25, 10)
    cycles = limits.cycles(lim, start, datetime(2023, 10, 30))
    assert [(c[1].date().isoformat(), c[2].date().isoformat()) for c in cycles[:3]] == [
        ("2023-09-25", "2023-10-02"),
        ("2023-10-02", "2023-10-09"),
        ("2023-10-09", "2023-10-16"),
    ]
    # a Wednesday start with Monday cycles: the first cycle is cut short
    _, s, e = limits.cycle_at(lim, datetime(2023, 9, 27), datetime(2023, 9, 28))
    assert (s, e) == (datetime(2023, 9, 27), datetime(2023, 10, 2))


def test_daily_and_monthly_cycles_and_rolling_window() -> None:
    daily = limits.Limit("BADGE", "FIXED_WINDOW", 5, "DAYS", 3)
    start = datetime(2026, 1, 1, 12)
    assert limits.cycle_at(daily, start, datetime(2026, 1, 5))[1:] == (
        datetime(2026, 1, 4, 12),
        datetime(2026, 1, 7, 12),
    )
    monthly = limits.Limit("BADGE", "FIXED_WINDOW", 5, "MONTHS", 1)
    assert limits.cycle_at(monthly, start, datetime(2026, 3, 9))[1:] == (datetime(2026, 3, 1), datetime(2026, 4, 1))
    rolling = limits.Limit("CUSTOMER", "ROLLING_WINDOW", 2, "WEEKS", 1)
    window = rolling.window(start, datetime(2026, 2, 10))
    assert window is not None and window[0] == datetime(2026, 2, 3)
    assert limits.Limit("CUSTOMER", "FIXED_VALUE", 2).window(start, datetime(2026, 2, 10)) is None


def test_customer_rolling_constraint_with_several_periods() -> None:
    found = limits.limits_of(
        {"constraintType": "CUSTOMER_BADGE_ROLLING_WINDOW", "maxEarnForDays": 1, "rollForDays": 1,
         "maxEarnForMonths": 5, "rollForMonths": 1}, "CUSTOMER",
    )  # fmt: skip
    assert [(lim.unit, lim.max_earn) for lim in found] == [("DAYS", 1), ("MONTHS", 5)]


@pytest.mark.parametrize(
    "constraint",
    [
        {"constraintType": "CUSTOMER_BADGE_FIXED_VALUE"},
        {"constraintType": "CUSTOMER_BADGE_FIXED_VALUE", "maxEarnLimit": 0},
        {"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 1, "durationType": "YEARS"},
        {"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 1, "durationType": "WEEKS",
         "startDayOfTheWeek": 9},
        {"constraintType": "BADGE_FIXED_VALUE", "maxEarnLimit": 1},
        "not an object",
    ],
)  # fmt: skip
def test_bad_constraints_answer_727(constraint: object) -> None:
    with pytest.raises(AppError) as info:
        limits.normalise([constraint], "CUSTOMER", "customerConstraints")
    assert info.value.items[0].code == 727


def test_switching_fixed_window_and_rolling_is_826() -> None:
    fixed = [{"constraintType": "BADGE_FIXED_WINDOW"}]
    rolling = [{"constraintType": "BADGE_ROLLING_WINDOW"}]
    with pytest.raises(AppError):
        limits.check_switch(fixed, rolling, "BADGE", "badgeConstraints")
    with pytest.raises(AppError):
        limits.check_switch(rolling, fixed, "BADGE", "badgeConstraints")
    limits.check_switch(fixed, fixed, "BADGE", "badgeConstraints")
    limits.check_switch([], fixed, "BADGE", "badgeConstraints")


def test_status_from_dates() -> None:
    s, e = datetime(2026, 1, 1), datetime(2026, 2, 1)
    assert status_of(s, e, datetime(2025, 12, 31)) == "UPCOMING"
    assert status_of(s, e, datetime(2026, 1, 15)) == "LIVE"
    assert status_of(s, e, datetime(2026, 2, 1)) == "ENDED"
