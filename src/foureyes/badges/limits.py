"""Earn limits: parsing `customerConstraints`/`badgeConstraints` and finding the window each one counts in.

Every constraint becomes one or more `Limit`s (a customer rolling constraint may carry a limit for days, for
weeks and for months at once). Fixed windows are cycles anchored on the badge start: DAYS cycles of
`refreshRate` days; WEEKS cycles that turn on `startDayOfTheWeek` (1 = Monday … 7 = Sunday, or its name),
the first one cut short at the badge start; MONTHS cycles that turn on the 1st of a calendar month. Windows
are half-open [start, end). Rolling windows are the period that ends at the earn's event date.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foureyes.badges import times
from foureyes.badges.rules import fail

DAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
CUSTOMER_TYPES = {
    "CUSTOMER_BADGE_FIXED_VALUE": "FIXED_VALUE",
    "CUSTOMER_BADGE_FIXED_WINDOW": "FIXED_WINDOW",
    "CUSTOMER_BADGE_ROLLING_WINDOW": "ROLLING_WINDOW",
    "CUSTOMER_BADGE_NO_LIMIT": "NO_LIMIT",
}
BADGE_TYPES = {
    "BADGE_FIXED_VALUE": "FIXED_VALUE",
    "BADGE_FIXED_WINDOW": "FIXED_WINDOW",
    "BADGE_ROLLING_WINDOW": "ROLLING_WINDOW",
    "BADGE_NO_LIMIT": "NO_LIMIT",
}
ROLLING_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("maxEarnForDays", "rollForDays", "DAYS"),
    ("maxEarnForWeeks", "rollForWeeks", "WEEKS"),
    ("maxEarnForMonths", "rollForMonths", "MONTHS"),
)
MAX_CYCLES = 5000
MAX_PERIODS = 1200  # 100 years of months: keeps every window inside datetime's range


@dataclass(frozen=True)
class Limit:
    level: str  # CUSTOMER | BADGE
    kind: str  # FIXED_VALUE | FIXED_WINDOW | ROLLING_WINDOW
    max_earn: int
    unit: str | None = None
    amount: int = 1
    start_day: int = 1
    reference_id: str | None = None

    def window(self, badge_start: datetime, at: datetime) -> tuple[datetime, datetime] | None:
        """The [start, end) this limit counts in for an earn at `at`; None for a lifetime limit."""
        if self.kind == "FIXED_VALUE":
            return None
        assert self.unit is not None
        if self.kind == "ROLLING_WINDOW":
            return times.shift(at, self.unit, -self.amount), at + timedelta(microseconds=1)
        return cycle_at(self, badge_start, at)[1:]


def _anchor(limit: Limit, badge_start: datetime) -> datetime:
    midnight = badge_start.replace(hour=0, minute=0, second=0, microsecond=0)
    if limit.unit == "WEEKS":
        return midnight - timedelta(days=(badge_start.isoweekday() - limit.start_day) % 7)
    if limit.unit == "MONTHS":
        return midnight.replace(day=1)
    return badge_start


def _cycle(limit: Limit, anchor: datetime, k: int) -> tuple[datetime, datetime]:
    if limit.unit == "MONTHS":
        return times.add_months(anchor, k * limit.amount), times.add_months(anchor, (k + 1) * limit.amount)
    step = timedelta(days=limit.amount * (7 if limit.unit == "WEEKS" else 1))
    return anchor + k * step, anchor + (k + 1) * step


def cycle_at(limit: Limit, badge_start: datetime, at: datetime) -> tuple[int, datetime, datetime]:
    """(index, start, end) of the fixed-window cycle holding `at`; the first cycle starts at the badge start."""
    anchor = _anchor(limit, badge_start)
    if limit.unit == "MONTHS":
        k = ((at.year - anchor.year) * 12 + at.month - anchor.month) // limit.amount
    else:
        step = timedelta(days=limit.amount * (7 if limit.unit == "WEEKS" else 1))
        k = (at - anchor) // step
    k = max(k, 0)
    start, end = _cycle(limit, anchor, k)
    return k, max(start, badge_start), end


def cycles(limit: Limit, badge_start: datetime, until: datetime) -> list[tuple[int, datetime, datetime]]:
    """Every cycle from the badge start until `until` (bounded)."""
    anchor = _anchor(limit, badge_start)
    out: list[tuple[int, datetime, datetime]] = []
    k = 0
    while len(out) < MAX_CYCLES:
        start, end = _cycle(limit, anchor, k)
        if start >= until:
            break
        if end > badge_start:
            out.append((k, max(start, badge_start), min(end, until)))
        k += 1
    return out


def _pos_int(c: dict[str, Any], key: str, ref: str, default: int | None = None, top: int = 10**9) -> int:
    value = c.get(key, default)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise fail(727, f"{ref}.{key}", f"{key} must be an integer from 1 to {top}")
    return value


def _start_day(value: Any, ref: str) -> int:
    if value is None:
        return 1
    if isinstance(value, str) and value.strip().upper() in DAY_NAMES:
        return DAY_NAMES.index(value.strip().upper()) + 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
        return value
    raise fail(727, f"{ref}.startDayOfTheWeek", "startDayOfTheWeek must be 1-7 or MONDAY..SUNDAY")


def _unit(value: Any, ref: str) -> str:
    unit = times.UNITS.get(value.strip().upper()) if isinstance(value, str) else None
    if unit is None:
        raise fail(727, ref, f"{ref} must be DAYS, WEEKS or MONTHS")
    return unit


def normalise(raw: Any, level: str, ref: str) -> list[dict[str, Any]]:
    """Validate a constraints array; returns it with server fields (fixed-window referenceId) filled in."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail(727, ref, f"{ref} must be an array")
    names = CUSTOMER_TYPES if level == "CUSTOMER" else BADGE_TYPES
    out = []
    for i, c in enumerate(raw):
        r = f"{ref}[{i}]"
        if not isinstance(c, dict) or c.get("constraintType") not in names:
            raise fail(727, f"{r}.constraintType", f"constraintType must be one of {', '.join(names)}")
        c = dict(c)
        limits_of(c, level, r)  # validates
        if names[c["constraintType"]] == "FIXED_WINDOW" and not c.get("referenceId"):
            c["referenceId"] = str(uuid.uuid4())
        out.append(c)
    return out


def limits_of(c: dict[str, Any], level: str, ref: str = "constraint") -> list[Limit]:
    """The limits one stored constraint imposes."""
    kind = (CUSTOMER_TYPES if level == "CUSTOMER" else BADGE_TYPES)[c["constraintType"]]
    if kind == "NO_LIMIT":
        return []
    if kind == "FIXED_VALUE":
        return [Limit(level, kind, _pos_int(c, "maxEarnLimit", ref))]
    if kind == "FIXED_WINDOW":
        unit = _unit(c.get("durationType"), f"{ref}.durationType")
        amount = _pos_int(c, "refreshRate", ref, default=1, top=MAX_PERIODS)
        day = _start_day(c.get("startDayOfTheWeek"), ref)
        return [Limit(level, kind, _pos_int(c, "maxEarnLimit", ref), unit, amount, day, c.get("referenceId"))]
    found = []
    for max_key, roll_key, unit in ROLLING_PAIRS:
        if c.get(max_key) is not None or c.get(roll_key) is not None:
            found.append(
                Limit(level, kind, _pos_int(c, max_key, ref), unit, _pos_int(c, roll_key, ref, top=MAX_PERIODS))
            )
    if c.get("rollType") is not None or not found:
        unit = _unit(c.get("rollType"), f"{ref}.rollType")
        found.append(
            Limit(level, kind, _pos_int(c, "maxEarnLimit", ref), unit, _pos_int(c, "rollValue", ref, top=MAX_PERIODS))
        )
    return found


def all_limits(doc: dict[str, Any]) -> list[Limit]:
    out: list[Limit] = []
    for c in doc.get("customerConstraints") or []:
        out += limits_of(c, "CUSTOMER")
    for c in doc.get("badgeConstraints") or []:
        out += limits_of(c, "BADGE")
    return out


def check_switch(old: list[dict[str, Any]], new: list[dict[str, Any]], level: str, ref: str) -> None:
    """826: a level may not move between fixed-window and rolling/fixed-value limits."""
    names = CUSTOMER_TYPES if level == "CUSTOMER" else BADGE_TYPES

    def families(cs: list[dict[str, Any]]) -> tuple[bool, bool]:
        kinds = {names.get(c.get("constraintType", ""), "") for c in cs}
        return "FIXED_WINDOW" in kinds, bool(kinds & {"FIXED_VALUE", "ROLLING_WINDOW"})

    old_fw, old_other = families(old)
    new_fw, new_other = families(new)
    if (old_fw and new_other and not new_fw) or (old_other and new_fw and not new_other):
        raise fail(826, ref)
