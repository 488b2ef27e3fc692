"""The checks an earn or an enrolment runs, shared by the real path and the dry run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foureyes.badges import limits, times
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


async def customer(session: Any, org: int, raw: Any, identifier: str | None, reference: str) -> int:
    """Resolve a customer id (or, with X-CAP-CUSTOMER-IDENTIFIER, an identifier value); 1026 if unknown."""
    customers = CustomerRepository(session)
    reject_nul(raw, reference)
    if identifier and identifier.strip().lower() not in ("", "id", "customerid"):
        if identifier_column(identifier) is None:
            raise fail(1028, "X-CAP-CUSTOMER-IDENTIFIER")
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise fail(1026, reference)
        found = await customers.by_identifier(org, identifier, str(raw))
        if found is None:
            raise fail(1026, reference)
        return found.id
    cid = as_int(raw, reference)
    if not await customers.exists(org, cid):
        raise fail(1026, reference)
    return cid


def live(meta: BadgeMeta, now: datetime) -> str:
    """815 unless the badge is active and LIVE; returns the status."""
    status = status_of_dates(meta.start_on, meta.expires_on, now)
    if status != "LIVE" or not meta.active:
        raise fail(815, "badgeMetaId")
    return status


async def claimed(repo: BadgeRepository, meta: BadgeMeta, trig: Trigger) -> None:
    """810 unless `triggeredBy` names an active claim of the badge."""
    if await repo.active_claim(meta.id, trig.owner_type, trig.reference_id) is None:
        raise fail(810, "triggeredBy")


async def limit_report(
    repo: BadgeRepository, meta: BadgeMeta, customer_id: int, at: datetime, pending: tuple[int, int] = (0, 0)
) -> list[dict[str, Any]]:
    """Each limit's current count for this customer/badge at `at`; `pending` = (customer, badge) earns not
    yet written (a dry-run bulk call counts its own earlier items)."""
    out = []
    for lim in limits.all_limits(meta.doc):
        window = lim.window(meta.start_on, at)
        per_customer = lim.level == "CUSTOMER"
        count = await repo.count_earns(meta.id, customer_id if per_customer else None, window)
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
