"""Request resources → words people read: the call in plain terms, the dry run, the timeline, the outcome."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

STATE_LABELS = {
    "AdminTask": "Pending approval",
    "IntouchAPITask": "Approved · executing",
    "approved": "Approved and executed",
    "rejected": "Rejected",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "expired": "Expired",
}
EVENT_LABELS = {
    "created": "Raised",
    "decision": "Decision",
    "attempt": "Execution attempt",
    "approved": "Executed successfully",
    "failed": "Execution failed",
    "cancelled": "Cancelled by the maker",
    "expired": "Expired without a decision",
}


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def humanize(key: str) -> str:
    """camelCase / snake_case → 'Camel case'."""
    parts = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").split()
    words = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in parts)
    return words[:1].upper() + words[1:] if words else key


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    return str(value)


def describe_value(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Any JSON structure as 'Key: value' lines (nested keys joined), bounded so a huge body stays readable."""
    lines: list[str] = []
    if depth > 4:
        return [f"{prefix}: …"] if prefix else ["…"]
    if isinstance(value, dict):
        # Epoch numbers that have an ISO twin (expiresOn / expiresOnISO) are shown once, as the ISO text.
        value = {k: v for k, v in value.items() if f"{k}ISO" not in value}
        for key, item in list(value.items())[:40]:
            label = f"{prefix} › {humanize(str(key))}" if prefix else humanize(str(key))
            lines.extend(describe_value(item, label, depth + 1))
    elif isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            lines.append(f"{prefix}: {', '.join(_scalar(v) for v in value[:50]) or 'none'}")
        else:
            for i, item in enumerate(value[:20], 1):
                lines.extend(describe_value(item, f"{prefix} #{i}" if prefix else f"#{i}", depth + 1))
    else:
        lines.append(f"{prefix}: {_scalar(value)}" if prefix else _scalar(value))
    return lines


def describe_dry_run(dry: Any) -> list[str]:
    """The dry run in words: a sentence the producer wrote when there is one, else its fields."""
    if dry is None:
        return []
    if isinstance(dry, str):
        return [dry]
    if isinstance(dry, dict):
        for key in ("summary", "message", "description", "text"):
            if isinstance(dry.get(key), str) and dry[key]:
                rest = {k: v for k, v in dry.items() if k != key}
                return [dry[key], *describe_value(rest)]
        if "limits" in dry or "issuedBadges" in dry:
            return badge_dry_run(dry)
        if {"customerId", "currentLabel", "newLabel"} <= dry.keys():
            return [
                f"Customer {dry['customerId']} is {dry['currentLabel'] or 'without a status'} now; "
                f"approving sets the status to {dry['newLabel']}."
            ]
    return describe_value(dry)


def _period(limit: dict[str, Any]) -> str:
    unit = str(limit.get("unit") or "").lower().rstrip("s")
    amount = limit.get("value") or 1
    span = unit if amount == 1 else f"{amount} {unit}s"
    if limit.get("constraintType") == "FIXED_WINDOW" and unit:
        return f"this {span}" if amount == 1 else f"in the current {span} window"
    if limit.get("constraintType") == "ROLLING_WINDOW" and unit:
        return f"in the last {span}"
    return "in total"


def limit_sentence(limit: dict[str, Any]) -> str:
    """'customer holds 1 of 2 allowed this week' (or 'all customers hold …' for a badge-wide limit)."""
    who = "customer holds" if limit.get("constraintLevel") == "CUSTOMER" else "all customers together hold"
    text = f"{who} {limit.get('currentEarnCount')} of {limit.get('maxEarnLimit')} allowed {_period(limit)}"
    return text + (" — limit reached" if limit.get("exhausted") else "")


def badge_dry_run(dry: dict[str, Any]) -> list[str]:
    """The badges dry run (earn or issue) as sentences."""
    status = dry.get("badgeStatus")
    state = f"badge is {status}" + ("" if dry.get("active", True) else " but deactivated") if status else ""
    lines: list[str] = []
    if "limits" in dry:
        parts = [limit_sentence(lim) for lim in dry.get("limits") or []] or ["no earn limits"]
        would = dry.get("wouldEarn", True)
        head = f"Customer {dry.get('customerId')} {'can' if would else 'cannot'} earn it now"
        lines.append("; ".join([head, *parts, state]).strip("; ") + ".")
        if dry.get("expiresOnISO") or dry.get("expiresOn"):
            lines.append(f"The earned badge would expire on {dry.get('expiresOnISO') or dry.get('expiresOn')}.")
    for item in dry.get("issuedBadges") or []:
        error = item.get("error")
        if error:
            lines.append(f"Customer {item.get('customerId')}: cannot be enrolled — {error.get('message')}")
        else:
            lines.append(f"Customer {item.get('customerId')}: would be enrolled.")
    if "issuedBadges" in dry and state:
        lines.append(state[:1].upper() + state[1:] + ".")
    return lines


def call_url(task: dict[str, Any]) -> str:
    query = {k: v for k, v in (task.get("queryParams") or {}).items() if v is not None}
    url = f"{str(task.get('hostname', '')).rstrip('/')}{task.get('path', '')}"
    return f"{url}?{urlencode(query)}" if query else url


def summary(request_type: str, task: dict[str, Any], badge_name: str | None = None) -> str:
    """One sentence saying what approving the request will do."""
    raw_body = task.get("body")
    body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
    query: dict[str, Any] = task.get("queryParams") or {}
    kind = request_type.upper()
    raw_trig = body.get("triggeredBy")
    trig: dict[str, Any] = raw_trig if isinstance(raw_trig, dict) else {}
    by = f", on behalf of {trig.get('ownerType')} {trig.get('referenceId')}" if trig else ""
    badge = f"“{badge_name}” ({body.get('badgeMetaId')})" if badge_name else str(body.get("badgeMetaId"))
    if kind == "EARN-BADGE":
        return f"Customer {body.get('customerId')} earns badge {badge}{by}."
    if kind == "ISSUE-BADGE":
        customers = body.get("customers")
        listed = ", ".join(str(c) for c in customers[:20]) if isinstance(customers, list) else str(customers)
        return f"Badge {badge} is issued to customer(s) {listed}{by}."
    if kind == "CUSTOMER-STATUS-CHANGE":
        return (
            f"The customer with {query.get('identifierName')} {query.get('identifierValue')} gets the status "
            f"{body.get('label')!r} (reason: {body.get('reason')})."
        )
    return f"{task.get('method')} {task.get('path')} is called on {task.get('hostname')}."


def describe_event(event: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    data = {k: v for k, v in (event.get("data") or {}).items() if v is not None}
    kind = str(event.get("kind", ""))
    label = EVENT_LABELS.get(kind, humanize(kind))
    if kind == "decision" and isinstance(data, dict):
        label = f"{humanize(str(data.get('decision', 'decision')))}"
        text = [f"Message: {data['message']}"] if data.get("message") else []
    else:
        text = describe_value(data) if data else []
    actor = str(event.get("actor", ""))
    return {"at": event.get("at"), "label": label, "actor": (names or {}).get(actor) or _actor(actor), "lines": text}


def _actor(actor: str) -> str:
    kind, _, ident = actor.partition(":")
    if kind == "system":
        return f"system ({ident})"
    return f"{kind} #{ident}" if ident else actor


def outcome(resource: dict[str, Any]) -> dict[str, Any] | None:
    output = resource.get("details", {}).get("IntouchAPITask_Output")
    reason = resource.get("failureReason")
    if output is None and reason is None:
        return None
    out: dict[str, Any] = {"reason": reason, "status": None, "body": None, "lines": []}
    if isinstance(output, dict):
        out["status"] = output.get("status")
        body = output.get("body")
        out["body"] = pretty(body) if body is not None else None
        if isinstance(body, dict) and isinstance(body.get("data"), dict | list):
            out["lines"] = describe_value(body["data"])[:30]
    return out
