"""Time in one place, so tests can move it and every timestamp is naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time as naive UTC datetimes (the stores keep UTC without a zone)."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)


class FrozenClock:
    """A clock for tests: it moves only when told."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self._now += timedelta(**delta)


def utcnow() -> datetime:
    return SystemClock().now()


def format_wire_time(value: datetime | None) -> str | None:
    """The request-workflow wire format: UTC `YYYY-MM-DDTHH:MM:SS`, no zone."""
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else None
