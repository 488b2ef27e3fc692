"""The checks an earn or an enrolment runs, shared by the real path and the dry run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foureyes.badges import limits, times
from foureyes.badges.earn_queries import CountKey
from foureyes.badges.models import BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import as_int, bad, fail, owner_type, reject_nul
from foureyes.badges.rules import status_of as status_of_dates
from foureyes.core.errors import AppError
from foureyes.customers.repository import CustomerRepository, identifier_column

FUTURE_SLACK = timedelta(hours=24)  # "may be up to 24 h in the future"


@dataclass(frozen=True)
class Trigger:
    owner_type: str
    reference_id: str

    def wire(self) -> dict[str, str]:
        return {"ownerType": self.owner_type, "referenceId": self.reference_id}


def trigger(body: dict[str, Any]) -> Trigger:
    """`triggeredBy{ownerType, referenceId}`: both mandatory (716, 717)."""
    raw = body.get("triggeredBy")
    if not isinstance(raw, dict) or raw.get("ownerType") in (None, ""):
        raise fail(716, "triggeredBy.ownerType")
    ref = raw.get("referenceId")
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 255:
        raise fail(717, "triggeredBy.referenceId")
    return Trigger(owner_type(raw["ownerType"], reference="triggeredBy.ownerType"), ref)


def request_id(body: dict[str, Any], *, required: bool) -> str | None:
    raw = body.get("requestId")
    if raw in (None, ""):
        if required:
            raise fail(804, "requestId")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise bad("requestId must be a string", "requestId")
    text = str(raw)
    if len(text) > 255:
        raise bad("requestId is at most 255 characters", "requestId")
    return text


def event_date(body: dict[str, Any], names: tuple[str, ...], now: datetime) -> datetime:
    for name in names:
        value = times.field(body, name)
        if value is not None:
            if value > now + FUTURE_SLACK:
                raise fail(750, name)
            return value
    return now


def customer_ref(raw: Any, identifier: str | None, reference: str) -> int | None:
    """The customer id a body names, checked without the database; None when it names an identifier value
    (X-CAP-CUSTOMER-IDENTIFIER) that only a lookup can resolve. Raises 400, 1028 or 1026 for a malformed one."""
    reject_nul(raw, reference)
    if identifier and identifier.strip().lower() not in ("", "id", "customerid"):
        if identifier_column(identifier) is None:
            raise fail(1028, "X-CAP-CUSTOMER-IDENTIFIER")
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise fail(1026, reference)
        return None
    return as_int(raw, reference)


async def customer(
    session: Any, org: int, raw: Any, identifier: str | None, reference: str, *, known: bool | None = None
) -> int:
    """Resolve a customer id (or, with X-CAP-CUSTOMER-IDENTIFIER, an identifier value); 1026 if unknown.
    `known` is the id's existence when the caller has already read it (BadgeRepository.facts)."""
    customers = CustomerRepository(session)
    cid = customer_ref(raw, identifier, reference)
    if cid is None:
        assert identifier is not None
        found = await customers.by_identifier(org, identifier, str(raw))
        if found is None:
            raise fail(1026, reference)
        return found.id
    if known is None:
        known = await customers.exists(org, cid)
    if not known:
        raise fail(1026, reference)
    return cid


def live(meta: BadgeMeta, now: datetime) -> str:
    """815 unless the badge is active and LIVE; returns the status."""
    status = status_of_dates(meta.start_on, meta.expires_on, now)
    if status != "LIVE" or not meta.active:
        raise fail(815, "badgeMetaId")
    return status


def claimed(found: bool | None) -> None:
    """810 unless `triggeredBy` names an active claim of the badge (`found`: BadgeRepository.facts's answer)."""
    if not found:
        raise fail(810, "triggeredBy")


def count_keys(meta: BadgeMeta, customer_id: int, at: datetime) -> list[CountKey]:
    """The counts limit_report will need, so they can be read with the other checks in one statement; none
    when the stored constraints do not parse (limit_report then raises at its documented place)."""
    try:
        return [_count_key(lim, meta, customer_id, at) for lim in limits.all_limits(meta.doc)]
    except AppError:
        return []


def _count_key(lim: limits.Limit, meta: BadgeMeta, customer_id: int, at: datetime) -> CountKey:
    return (customer_id if lim.level == "CUSTOMER" else None, lim.window(meta.start_on, at))


async def limit_report(
    repo: BadgeRepository,
    meta: BadgeMeta,
    customer_id: int,
    at: datetime,
    pending: tuple[int, int] = (0, 0),
    known: dict[CountKey, int] | None = None,
) -> list[dict[str, Any]]:
    """Each limit's current count for this customer/badge at `at`; `pending` = (customer, badge) earns not
    yet written (a dry-run bulk call counts its own earlier items); `known` = counts already read (by
    BadgeRepository.facts, after the badge lock); any other is counted here."""
    out = []
    for lim in limits.all_limits(meta.doc):
        key = _count_key(lim, meta, customer_id, at)
        customer_key, window = key
        per_customer = lim.level == "CUSTOMER"
        count = (known or {}).get(key)
        if count is None:
            count = await repo.count_earns(meta.id, customer_key, window)
        count += pending[0] if per_customer else pending[1]
        entry: dict[str, Any] = {
            "constraintLevel": lim.level,
            "constraintType": lim.kind,
            "maxEarnLimit": lim.max_earn,
            "currentEarnCount": count,
            "remaining": max(lim.max_earn - count, 0),
            "exhausted": count >= lim.max_earn,
        }
        if lim.unit:
            entry["unit"], entry["value"] = lim.unit, lim.amount
        if window is not None:
            entry["window"] = times.pair("startDate", window[0]) | times.pair("endDate", window[1])
        out.append(entry)
    return out


def first_exhausted(report: list[dict[str, Any]], data: Any = None) -> None:
    for entry in report:
        if entry["exhausted"]:
            level = entry["constraintLevel"].lower()
            message = f"Earn limit reached for the badge ({level} {entry['constraintType']}: {entry['maxEarnLimit']})"
            raise fail(817, "badgeMetaId", message, data=data)


def with_data(exc: AppError, data: Any) -> AppError:
    exc.data = data
    return exc


def status_of(meta: BadgeMeta, now: datetime) -> str:
    return status_of_dates(meta.start_on, meta.expires_on, now)
