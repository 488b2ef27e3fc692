"""One typed error hierarchy, rendered everywhere as the contract's envelope.

`{"data": null, "errors": [{"code", "message", "reference"}], "warnings": []}` with a status that says the
class of failure. Request-workflow codes (2xxx) and badge codes (7xx/8xx/10xx) both travel through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorItem:
    code: int
    message: str
    reference: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "reference": self.reference}


@dataclass
class AppError(Exception):
    """Base of every expected failure; never a 500."""

    status: int
    items: list[ErrorItem]
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        code: int,
        message: str,
        reference: str | None = None,
        *,
        status: int | None = None,
        data: Any = None,
        items: list[ErrorItem] | None = None,
    ) -> None:
        self.status = status if status is not None else self.default_status
        self.items = items if items is not None else [ErrorItem(code, message, reference)]
        self.data = data
        self.headers = {}
        super().__init__(message)

    default_status = 400

    def envelope(self) -> dict[str, Any]:
        return {"data": self.data, "errors": [i.as_dict() for i in self.items], "warnings": []}


class BadRequest(AppError):
    default_status = 400


class Unauthorized(AppError):
    default_status = 401

    def __init__(self, message: str = "Verification failed: bad or missing credentials", code: int = 2013) -> None:
        super().__init__(code, message)
        self.headers = {"WWW-Authenticate": 'Basic realm="foureyes"'}


class Forbidden(AppError):
    default_status = 403

    def __init__(self, message: str = "No permission for this operation", code: int = 2001) -> None:
        super().__init__(code, message)


class NotFound(AppError):
    default_status = 404


class Conflict(AppError):
    default_status = 409


class PayloadTooLarge(AppError):
    default_status = 413


class Unavailable(AppError):
    default_status = 503


class UnstorableText(BadRequest):
    """Input the store refuses (PostgreSQL text cannot hold NUL); a payload error, never a 500."""

    def __init__(self) -> None:
        super().__init__(400, "Text values must not contain NUL (\\u0000) characters")


def many(status: int, items: list[ErrorItem]) -> AppError:
    """An error listing every reason found (validation never stops at the first one)."""
    return AppError(items[0].code, items[0].message, items[0].reference, status=status, items=items)


def envelope(data: Any, warnings: list[Any] | None = None) -> dict[str, Any]:
    """The badges/customers success envelope."""
    return {"data": data, "errors": [], "warnings": warnings or []}
