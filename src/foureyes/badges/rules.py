"""Badge domain vocabulary: error codes, owner types, status derivation.

Codes and messages are the documented ones (reference-badges.md); 726, 727 and 817 are ours, written
down in docs/decisions.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from foureyes.core.errors import AppError, ErrorItem

OWNER_TYPES = (
    "Loyalty",
    "Loyalty_Promotion",
    "Referral_Campaigns",
    "Journeys",
    "Audience_Campaigns",
    "Rewards_Catalog",
    "Goodwill_Module",
    "Milestones",
    "Historical_Import",
)
_OWNERS_BY_KEY = {o.lower(): o for o in OWNER_TYPES}
EARN_TYPES = ("EARN", "ISSUE_EARN")

MESSAGES: dict[int, tuple[int, str]] = {
    714: (400, "Owner type is not allowed."),
    716: (400, "Owner type information is missing"),
    717: (400, "OwnerId is mandatory."),
    720: (400, "Start Date should be before End Date"),
    722: (400, "Start Date cannot be past date"),
    723: (400, "Start Date cannot change once the badge is live"),
    724: (400, "Expiry Date cannot be past date"),
    725: (400, "Badge name cannot be duplicate"),
    726: (400, "Badge expiry configuration is invalid"),
    727: (400, "Badge constraint configuration is invalid"),
    728: (400, "Atleast one owner is required"),
    732: (400, "Group rank is mandatory"),
    733: (400, "Group name is not unique"),
    735: (400, "Group name is mandatory"),
    737: (400, "Claim not found in existing claims"),
    740: (400, "Custom field name is not unique"),
    741: (400, "Custom field dataType is mandatory"),
    742: (400, "A mandatory custom field needs a default value"),
    744: (400, "The default value must be a number"),
    750: (400, "Earn event date should not be in future"),
    804: (400, "RequestId information is missing"),
    809: (400, "Request with the same requestId is not allowed"),
    810: (400, "The badge needs to be claimed first using the claim badge API."),
    811: (409, "Badge issue is mandatory before earn"),
    812: (400, "CustomerId information is missing"),
    814: (400, "Active earn instance is not present."),
    815: (400, "Badge is not live"),
    816: (400, "Event date is not in duration of badge meta. Pass the event date."),
    817: (400, "Earn limit reached for the badge"),
    826: (400, "Change from rolling window or fixed constraint to fixed window or vice versa is not allowed."),
    1026: (404, "Customer not found"),
    1028: (400, "Invalid customer identifier type"),
    1040: (400, "An active issue for the badge already exists."),
    1051: (400, "RevokeIssuals or CustomerId is mandatory"),
    1054: (404, "GLOBAL.BADGE_NOT_FOUND"),
}


def fail(code: int, reference: str | None = None, message: str | None = None, data: Any = None) -> AppError:
    """An AppError with the documented status and message for `code`."""
    status, default = MESSAGES.get(code, (400, "Invalid request"))
    return AppError(code, message or default, reference, status=status, data=data)


def item(code: int, message: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """A per-item error inside a bulk response's data."""
    return ErrorItem(code, message or MESSAGES.get(code, (400, "Invalid request"))[1], reference).as_dict()


def bad(message: str, reference: str | None = None) -> AppError:
    """A schema violation without a documented code."""
    return AppError(400, message, reference)


def not_found(message: str = "Passed badge is not found", reference: str | None = None) -> AppError:
    return AppError(404, message, reference, status=404)


def owner_type(value: Any, *, code_if_unknown: int | None = None, reference: str = "ownerType") -> str:
    """Canonical Title_Case owner type; matched case-insensitively (contract §7)."""
    found = _OWNERS_BY_KEY.get(value.strip().lower()) if isinstance(value, str) else None
    if found is None:
        if code_if_unknown is not None:
            raise fail(code_if_unknown, reference)
        raise bad("Invalid enum value.", reference)
    return found


def status_of(start_on: datetime, expires_on: datetime, now: datetime) -> str:
    """LIVE between start and expiry; UPCOMING before; ENDED after (the active flag is separate)."""
    if now < start_on:
        return "UPCOMING"
    if now >= expires_on:
        return "ENDED"
    return "LIVE"


def customer_status(status: str) -> str:
    """Customer-facing views spell ENDED as EXPIRED, as the documented examples do."""
    return "EXPIRED" if status == "ENDED" else status


def parse_status_filter(raw: str | None) -> set[str]:
    """`status=LIVE,UPCOMING`; EXPIRED is accepted for ENDED."""
    if not raw:
        return set()
    out: set[str] = set()
    for part in raw.split(","):
        p = part.strip().upper()
        if not p:
            continue
        if p == "EXPIRED":
            p = "ENDED"
        if p not in ("LIVE", "UPCOMING", "ENDED"):
            raise bad(f"Invalid status {part.strip()!r}", "status")
        out.add(p)
    return out


MAX_ID = 2**63 - 1


def as_int(value: Any, reference: str) -> int:
    """A customer id: a JSON number or a numeric string (the documented example sends a string)."""
    out: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        out = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        out = int(value.strip())
    elif isinstance(value, float) and value.is_integer() and abs(value) <= MAX_ID:
        out = int(value)
    if out is None or not 0 < out <= MAX_ID:
        raise bad(f"{reference} must be a positive number", reference)
    return out


def reject_nul(value: Any, reference: str = "body", depth: int = 0) -> None:
    """Refuse NUL characters anywhere in a body (PostgreSQL text cannot hold them) and absurd nesting."""
    if depth > 32:
        raise bad("The body is nested too deeply", reference)
    if isinstance(value, str):
        if "\x00" in value:
            raise bad("Text may not contain NUL characters", reference)
    elif isinstance(value, dict):
        for k, v in value.items():
            reject_nul(k, reference, depth + 1)
            reject_nul(v, f"{reference}.{k}" if reference != "body" else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            reject_nul(v, f"{reference}[{i}]", depth + 1)
