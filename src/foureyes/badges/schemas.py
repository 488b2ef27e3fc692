"""Badge meta bodies: validation of hostile JSON into stored fields, and the wire shape of a stored badge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from foureyes.badges import limits, times
from foureyes.badges.models import BadgeClaim, BadgeMeta
from foureyes.badges.rules import EARN_TYPES, bad, fail, owner_type, reject_nul, status_of

EXPIRY_TYPES = ("RELATIVE", "ABSOLUTE", "NEVER")
MAX_RELATIVE = 1200  # 1200 months is the NEVER horizon of 100 years
# Documented body fields kept verbatim in the JSON doc.
DOC_FIELDS = ("description", "images", "benefits", "tags", "customFields", "defaultTillId")


@dataclass
class MetaInput:
    name: str
    start_on: datetime
    expires_on: datetime
    active: bool
    earn_type: str
    group_id: str | None
    rank: int | None
    doc: dict[str, Any]


def expiry(raw: Any, ref: str, *, required: bool) -> dict[str, Any] | None:
    """Validate an earned/issued expiry rule; returns it with times as epoch seconds."""
    if raw is None:
        if required:
            raise fail(726, ref, f"{ref} is required")
        return None
    if not isinstance(raw, dict) or raw.get("expiryType") not in EXPIRY_TYPES:
        raise fail(726, f"{ref}.expiryType", "expiryType must be RELATIVE, ABSOLUTE or NEVER")
    kind = raw["expiryType"]
    if kind == "NEVER":
        return {"expiryType": "NEVER"}
    if kind == "RELATIVE":
        unit = raw.get("relativeExpirytype", raw.get("relativeExpiryType"))
        value = raw.get("value")
        if not isinstance(unit, str) or unit.upper() not in ("DAYS", "WEEKS", "MONTHS"):
            raise fail(726, f"{ref}.relativeExpirytype", "relativeExpirytype must be DAYS, WEEKS or MONTHS")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RELATIVE:
            raise fail(726, f"{ref}.value", f"value must be an integer from 1 to {MAX_RELATIVE}")
        return {"expiryType": "RELATIVE", "relativeExpirytype": unit.upper(), "value": value}
    typ = raw.get("type", "WITH_BADGE_META")
    if raw.get("expireWithBadgeMeta") is True:
        typ = "WITH_BADGE_META"
    if typ not in ("WITH_BADGE_META", "FIXED_DATE"):
        raise fail(726, f"{ref}.type", "type must be WITH_BADGE_META or FIXED_DATE")
    out: dict[str, Any] = {"expiryType": "ABSOLUTE", "type": typ, "expireWithBadgeMeta": typ == "WITH_BADGE_META"}
    if typ == "FIXED_DATE":
        when = times.field(raw, "expiresOn")
        if when is None:
            raise fail(726, f"{ref}.expiresOn", "expiresOn is required for FIXED_DATE")
        out |= times.pair("expiresOn", when)
    return out


def expiry_at(rule: dict[str, Any] | None, base: datetime, badge_expires: datetime, now: datetime) -> datetime:
    """When an earn or issue made at `base` expires under `rule` (no rule: with the badge)."""
    if rule is None:
        return badge_expires
    if rule["expiryType"] == "NEVER":
        return times.never(now)
    if rule["expiryType"] == "RELATIVE":
        return times.shift(base, rule["relativeExpirytype"], rule["value"])
    if rule.get("type") == "FIXED_DATE":
        return times.parse(rule["expiresOn"])
    return badge_expires


def _owners(raw: Any) -> list[str]:
    owners = raw.get("restrictedToOwners") if isinstance(raw, dict) else None
    if not isinstance(owners, list) or not owners:
        raise fail(728, "ownership.restrictedToOwners")
    out: list[str] = []
    for o in owners:
        canonical = owner_type(o, code_if_unknown=714, reference="ownership.restrictedToOwners")
        if canonical not in out:
            out.append(canonical)
    return out


def parse_meta(body: Any) -> MetaInput:
    """Schema-level validation of a create/update body (business rules are the service's)."""
    if not isinstance(body, dict):
        raise bad("The body must be a JSON object")
    reject_nul(body)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad("name is required (at most 255 characters)", "name")
    start_on = times.field(body, "startOn", required=True)
    expires_on = times.field(body, "expiresOn", required=True)
    assert start_on is not None and expires_on is not None
    earn_type = body.get("earnType")
    if earn_type not in EARN_TYPES:
        raise bad("earnType must be EARN or ISSUE_EARN", "earnType")
    active = body.get("active", body.get("isActive", True))
    if not isinstance(active, bool):
        raise bad("active must be a boolean", "active")
    rank = body.get("badgeRank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or abs(rank) > 10**9):
        raise bad("badgeRank must be an integer", "badgeRank")
    group_id = body.get("badgeGroupId")
    if group_id is not None and not isinstance(group_id, str):
        raise bad("badgeGroupId must be a string", "badgeGroupId")
    doc: dict[str, Any] = {k: body[k] for k in DOC_FIELDS if body.get(k) is not None}
    if "description" in doc and not isinstance(doc["description"], str):
        raise bad("description must be a string", "description")
    for key in ("images", "benefits", "tags"):
        if key in doc and not isinstance(doc[key], list):
            raise bad(f"{key} must be an array", key)
    if "customFields" in doc and not isinstance(doc["customFields"], dict):
        raise bad("customFields must be an object", "customFields")
    for i, b in enumerate(doc.get("benefits", [])):
        if isinstance(b, dict) and b.get("benefitType") == "COUPON" and b.get("seriesId") is None:
            raise bad("seriesId is required if benefitType is COUPON", f"benefits[{i}].seriesId")
    doc["earnedBadgeExpiry"] = expiry(body.get("earnedBadgeExpiry"), "earnedBadgeExpiry", required=True)
    doc["issuedBadgeExpiry"] = expiry(body.get("issuedBadgeExpiry"), "issuedBadgeExpiry", required=False)
    doc["restrictedToOwners"] = _owners(body.get("ownership"))
    doc["customerConstraints"] = limits.normalise(body.get("customerConstraints"), "CUSTOMER", "customerConstraints")
    doc["badgeConstraints"] = limits.normalise(body.get("badgeConstraints"), "BADGE", "badgeConstraints")
    return MetaInput(name, start_on, expires_on, active, earn_type, group_id, rank, doc)


def _constraints(meta: BadgeMeta, key: str, level: str, now: datetime) -> list[dict[str, Any]]:
    out = []
    for c in meta.doc.get(key) or []:
        c = dict(c)
        fixed = [lim for lim in limits.limits_of(c, level) if lim.kind == "FIXED_WINDOW"]
        if fixed:
            at = min(max(now, meta.start_on), meta.expires_on)
            _, start, end = limits.cycle_at(fixed[0], meta.start_on, at)
            c["cycleStatus"] = "UPCOMING" if now < meta.start_on else "ACTIVE"
            c |= times.pair("startDate", start) | times.pair("endDate", min(end, meta.expires_on))
            c["currentCycle"] = times.pair("startDate", start) | times.pair("endDate", min(end, meta.expires_on))
        out.append(c)
    return out


def claim_wire(c: BadgeClaim) -> dict[str, Any]:
    return {"ownerType": c.owner_type, "referenceId": c.reference_id, "isActive": c.active}


def meta_wire(
    meta: BadgeMeta, claims: list[BadgeClaim], now: datetime, *, group_name: str | None = None
) -> dict[str, Any]:
    """The stored badge meta as the documented responses show it."""
    d = meta.doc
    out: dict[str, Any] = {"id": meta.id, "orgId": meta.org_id, "name": meta.name}
    out["description"] = d.get("description")
    out |= times.pair("startOn", meta.start_on) | times.pair("expiresOn", meta.expires_on)
    out |= {
        "earnType": meta.earn_type,
        "status": status_of(meta.start_on, meta.expires_on, now),
        "active": meta.active,
        "isActive": meta.active,
        "action": "ACTIVATED" if meta.active else "DE_ACTIVATED",
        "earnedBadgeExpiry": d.get("earnedBadgeExpiry"),
        "issuedBadgeExpiry": d.get("issuedBadgeExpiry"),
        "ownership": {"restrictedToOwners": d.get("restrictedToOwners", []), "claims": [claim_wire(c) for c in claims]},
        "customerConstraints": _constraints(meta, "customerConstraints", "CUSTOMER", now),
        "badgeConstraints": _constraints(meta, "badgeConstraints", "BADGE", now),
        "images": d.get("images", []),
        "benefits": d.get("benefits", []),
        "tags": d.get("tags", []),
        "customFields": d.get("customFields", {}),
        "badgeGroupId": meta.group_id,
        "badgeRank": meta.rank,
        "defaultTillId": d.get("defaultTillId"),
        "createdBy": meta.created_by,
        "lastUpdatedBy": meta.updated_by,
    }
    if group_name is not None:
        out["badgeGroupName"] = group_name
    out |= times.pair("createdOn", meta.created_at) | times.pair("lastUpdatedOn", meta.updated_at)
    return out
