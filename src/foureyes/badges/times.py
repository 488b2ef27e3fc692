"""Time on the badges wire: inputs in epoch seconds, epoch milliseconds or ISO-8601; outputs as epoch seconds
plus an `*ISO` twin (contract §7). Internally every instant is a naive UTC datetime."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from foureyes.core.errors import AppError

# Epoch values above this are milliseconds: 10^11 seconds is the year 5138, 10^11 ms is 1973.
MS_THRESHOLD = 10**11
UNITS = {"DAYS": "DAYS", "DAY": "DAYS", "DAILY": "DAYS", "WEEKS": "WEEKS", "WEEK": "WEEKS", "WEEKLY": "WEEKS"}
UNITS |= {"MONTHS": "MONTHS", "MONTH": "MONTHS", "MONTHLY": "MONTHS"}
EPOCH = datetime(1970, 1, 1)
NEVER_YEARS = 100
MIN_YEAR, MAX_YEAR = 1900, 9000


class TimeFormatError(ValueError):
    pass


def parse(value: Any) -> datetime:
    """One time input → naive UTC between 1900 and 9000 (so every window and expiry computed from it stays
    inside datetime's range); raises TimeFormatError for anything else."""
    out = _parse(value)
    if not MIN_YEAR <= out.year <= MAX_YEAR:
        raise TimeFormatError(f"time must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return out


def _parse(value: Any) -> datetime:
    if isinstance(value, bool):
        raise TimeFormatError("not a time")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > MS_THRESHOLD else value
        try:
            return EPOCH + timedelta(seconds=float(seconds))
        except (OverflowError, ValueError):
            raise TimeFormatError("time out of range") from None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            return _parse(number)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise TimeFormatError("not an epoch number or ISO-8601 time") from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    raise TimeFormatError("not a time")


def field(body: dict[str, Any], name: str, *, required: bool = False) -> datetime | None:
    """Read `name` or its `nameISO` twin (the ISO twin wins, as documented)."""
    raw = body.get(f"{name}ISO")
    if raw in (None, ""):
        raw = body.get(name)
    if raw in (None, ""):
        if required:
            raise AppError(400, f"{name} is required", name)
        return None
    try:
        return parse(raw)
    except TimeFormatError as exc:
        raise AppError(400, f"{name}: {exc}", name) from None


def epoch(value: datetime | None) -> float | None:
    """Epoch seconds (fractional) for the wire."""
    if value is None:
        return None
    return round((value - EPOCH).total_seconds(), 6)


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def pair(name: str, value: datetime | None) -> dict[str, Any]:
    """`{name: epoch, nameISO: iso}` for a response."""
    return {name: epoch(value), f"{name}ISO": iso(value)}


def add_months(value: datetime, months: int) -> datetime:
    month0 = value.month - 1 + months
    year, month = value.year + month0 // 12, month0 % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def shift(value: datetime, unit: str, amount: int) -> datetime:
    """`value` moved by `amount` DAYS|WEEKS|MONTHS (negative moves back)."""
    unit = UNITS.get(unit.upper(), unit.upper()) if isinstance(unit, str) else unit
    if unit == "DAYS":
        return value + timedelta(days=amount)
    if unit == "WEEKS":
        return value + timedelta(weeks=amount)
    if unit == "MONTHS":
        return add_months(value, amount)
    raise ValueError(f"unknown unit {unit}")


def never(now: datetime) -> datetime:
    """NEVER expiry: 100 years from now, as documented."""
    return add_months(now, 12 * NEVER_YEARS)
