"""Badge definition form ↔ the badgeMeta create/update body the API takes (one limit per level in the form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

OWNER_TYPES = (
    "Loyalty", "Loyalty_Promotion", "Referral_Campaigns", "Journeys", "Audience_Campaigns", "Rewards_Catalog",
    "Goodwill_Module", "Milestones", "Historical_Import",
)  # fmt: skip
UNITS = ("DAYS", "WEEKS", "MONTHS")
MINUTE = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows
LIMIT_KINDS = (("", "No limit"), ("FIXED_VALUE", "In total"), ("FIXED_WINDOW", "Per calendar window"),
               ("ROLLING_WINDOW", "Per rolling window"))  # fmt: skip
# Fields the server adds to fixed-window constraints in responses; they are not part of a definition.
SERVER_FIELDS = ("cycleStatus", "startDate", "endDate", "startDateISO", "endDateISO", "currentCycle")
# Documented body fields the form does not edit: carried over unchanged on update.
KEPT = ("images", "benefits", "tags", "customFields", "defaultTillId", "badgeGroupId")
FIELDS = (
    "name", "description", "earnType", "active", "badgeRank", "startOn", "expiresOn", "startOn_was",
    "startOn_shown", "expiresOn_was", "expiresOn_shown", "earned_kind", "earned_unit", "earned_value",
    "issued_kind", "issued_unit", "issued_value", "customer_limit", "customer_max", "customer_unit",
    "customer_every", "badge_limit", "badge_max", "badge_unit", "badge_every",
)  # fmt: skip


def _minute(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(float(epoch), UTC).strftime(MINUTE)


def _expiry_form(rule: dict[str, Any] | None, prefix: str) -> dict[str, str]:
    if not rule:
        return {f"{prefix}_kind": "", f"{prefix}_unit": "DAYS", f"{prefix}_value": ""}
    kind = rule.get("expiryType", "")
    return {
        f"{prefix}_kind": "WITH_BADGE" if kind == "ABSOLUTE" else kind,
        f"{prefix}_unit": str(rule.get("relativeExpirytype") or "DAYS"),
        f"{prefix}_value": str(rule.get("value") or ""),
    }


def _limit_form(constraints: list[dict[str, Any]], prefix: str) -> dict[str, str]:
    c = constraints[0] if constraints else {}
    kind = str(c.get("constraintType", "")).removeprefix("CUSTOMER_BADGE_").removeprefix("BADGE_")
    kind = "" if kind == "NO_LIMIT" else kind
    unit = c.get("durationType") or c.get("rollType") or "DAYS"
    every = c.get("refreshRate") or c.get("rollValue") or ""
    maximum = c.get("maxEarnLimit") or ""
    for max_key, roll_key, rolling_unit in (("maxEarnForDays", "rollForDays", "DAYS"),
                                            ("maxEarnForWeeks", "rollForWeeks", "WEEKS"),
                                            ("maxEarnForMonths", "rollForMonths", "MONTHS")):  # fmt: skip
        if c.get(max_key) is not None:
            maximum, every, unit = c[max_key], c.get(roll_key, ""), rolling_unit
            break
    return {f"{prefix}_limit": kind, f"{prefix}_max": str(maximum), f"{prefix}_unit": str(unit).upper(),
            f"{prefix}_every": str(every)}  # fmt: skip


def blank_form(now: datetime) -> dict[str, Any]:
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=5)
    values: dict[str, Any] = {
        "name": "", "description": "", "earnType": "EARN", "active": "on", "badgeRank": "",
        "startOn": start.strftime(MINUTE), "expiresOn": (start + timedelta(days=365)).strftime(MINUTE),
        "owners": ["Goodwill_Module"],
    }  # fmt: skip
    values |= _expiry_form(None, "earned") | {"earned_kind": "WITH_BADGE"} | _expiry_form(None, "issued")
    return values | _limit_form([], "customer") | _limit_form([], "badge")


def to_form(meta: dict[str, Any]) -> dict[str, Any]:
    """A stored badge (wire shape) as form values; *_was/*_shown keep the exact stored times."""
    start, expires = _minute(meta.get("startOn")), _minute(meta.get("expiresOn"))
    values: dict[str, Any] = {
        "name": meta.get("name") or "", "description": meta.get("description") or "",
        "earnType": meta.get("earnType") or "EARN", "active": "on" if meta.get("active") else "",
        "badgeRank": "" if meta.get("badgeRank") is None else str(meta["badgeRank"]),
        "startOn": start, "startOn_shown": start, "startOn_was": str(meta.get("startOn") or ""),
        "expiresOn": expires, "expiresOn_shown": expires, "expiresOn_was": str(meta.get("expiresOn") or ""),
        "owners": list(meta.get("ownership", {}).get("restrictedToOwners", [])),
    }  # fmt: skip
    values |= _expiry_form(meta.get("earnedBadgeExpiry"), "earned")
    values |= _expiry_form(meta.get("issuedBadgeExpiry"), "issued")
    values |= _limit_form(meta.get("customerConstraints") or [], "customer")
    return values | _limit_form(meta.get("badgeConstraints") or [], "badge")


def _time(values: dict[str, Any], name: str) -> Any:
    """The stored epoch when the field still shows it (minute precision would otherwise move it)."""
    if values.get(name) and values.get(name) == values.get(f"{name}_shown") and values.get(f"{name}_was"):
        try:
            return float(values[f"{name}_was"])
        except ValueError:
            pass
    text = str(values.get(name) or "").strip()
    return f"{text}:00Z" if len(text) == 16 else (text or None)


def _int(text: Any) -> Any:
    """Whole numbers as int; anything else goes through unchanged so the service names the problem."""
    text = str(text or "").strip()
    return int(text) if text.isdigit() else (text or None)


def _expiry_body(values: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    kind = values.get(f"{prefix}_kind") or ""
    if kind == "":
        return None
    if kind == "WITH_BADGE":
        return {"expiryType": "ABSOLUTE", "type": "WITH_BADGE_META", "expireWithBadgeMeta": True}
    if kind == "RELATIVE":
        return {"expiryType": "RELATIVE", "relativeExpirytype": values.get(f"{prefix}_unit"),
                "value": _int(values.get(f"{prefix}_value"))}  # fmt: skip
    return {"expiryType": kind}


def _limit_body(values: dict[str, Any], prefix: str, level: str, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kind = values.get(f"{prefix}_limit") or ""
    name = ("CUSTOMER_BADGE_" if level == "CUSTOMER" else "BADGE_") + (kind or "NO_LIMIT")
    first: dict[str, Any] = {"constraintType": name}
    maximum, every = _int(values.get(f"{prefix}_max")), _int(values.get(f"{prefix}_every"))
    unit = values.get(f"{prefix}_unit")
    if kind == "FIXED_VALUE":
        first["maxEarnLimit"] = maximum
    elif kind == "FIXED_WINDOW":
        first |= {"maxEarnLimit": maximum, "durationType": unit, "refreshRate": every or 1}
        if old and old[0].get("constraintType") == name and old[0].get("referenceId"):
            first["referenceId"] = old[0]["referenceId"]  # same cycle series when only the numbers change
    elif kind == "ROLLING_WINDOW":
        first |= {"maxEarnLimit": maximum, "rollType": unit, "rollValue": every}
    rest = [{k: v for k, v in c.items() if k not in SERVER_FIELDS} for c in old[1:]]
    return ([first] if kind else []) + rest


def to_body(values: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The create (or, with `existing`, update) body; validation is left to the badges service."""
    old = existing or {}
    body: dict[str, Any] = {k: old[k] for k in KEPT if old.get(k) is not None}
    body |= {
        "name": str(values.get("name") or "").strip(),
        "description": str(values.get("description") or "").strip() or None,
        "earnType": values.get("earnType"),
        "isActive": values.get("active") == "on",
        "badgeRank": _int(values.get("badgeRank")),
        "startOn": _time(values, "startOn"),
        "expiresOn": _time(values, "expiresOn"),
        "earnedBadgeExpiry": _expiry_body(values, "earned"),
        "issuedBadgeExpiry": _expiry_body(values, "issued"),
        "ownership": {"restrictedToOwners": [o for o in values.get("owners", []) if o in OWNER_TYPES]},
        "customerConstraints": _limit_body(values, "customer", "CUSTOMER", old.get("customerConstraints") or []),
        "badgeConstraints": _limit_body(values, "badge", "BADGE", old.get("badgeConstraints") or []),
    }
    if existing is not None:
        body["id"] = existing["id"]
    return {k: v for k, v in body.items() if v is not None or k in ("issuedBadgeExpiry",)}
