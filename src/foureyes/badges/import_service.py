"""Bulk import of earned badges (and the customers they belong to) from CSV or JSON-lines files.

All or nothing: every row is checked inside one write transaction; if any row is rejected the transaction
is rolled back and every rejected row is reported with its reason.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foureyes.audit.service import record
from foureyes.badges import times
from foureyes.badges.models import BadgeEarn
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import as_int, bad, fail, reject_nul
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.core.ids import object_id
from foureyes.customers.models import Customer
from foureyes.customers.repository import CustomerRepository

CUSTOMER_FIELDS = {"mobile": "mobile", "email": "email", "externalId": "external_id", "cardNumber": "card_number"}
CUSTOMER_FIELDS |= {"firstName": "first_name", "lastName": "last_name"}


@dataclass
class ImportResult:
    rows: int = 0
    earns: int = 0
    customers: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


class _Rollback(Exception):
    pass


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a .csv (header line) or .jsonl file; empty CSV cells are absent."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                yield {k: v for k, v in row.items() if k and v not in (None, "")}
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    value = {"__invalid__": line.strip()[:80]}
                yield value if isinstance(value, dict) else {"__invalid__": str(value)[:80]}


async def import_file(
    ctx: AppContext, org_id: int, rows: list[dict[str, Any]], progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Apply every row or none; `progress(1)` is called per row."""
    result = ImportResult(rows=len(rows))
    now = ctx.clock.now()
    try:
        async with ctx.db.write() as s:
            repo, customers = BadgeRepository(s, org_id), CustomerRepository(s)
            for n, row in enumerate(rows, start=1):
                try:
                    await _apply(s, repo, customers, org_id, row, now, result)
                except AppError as exc:
                    result.rejected.append((n, exc.items[0].message))
                if progress:
                    progress(1)
            if result.rejected:
                raise _Rollback
    except _Rollback:
        result.earns = result.customers = 0
    return result


async def _apply(
    s: Any, repo: BadgeRepository, customers: CustomerRepository, org: int, row: dict[str, Any], now: Any,
    result: ImportResult,
) -> None:  # fmt: skip
    if "__invalid__" in row:
        raise bad(f"not a JSON object: {row['__invalid__']}")
    reject_nul(row)
    if row.get("customerId") in (None, ""):
        raise fail(812, "customerId")
    cid = as_int(row["customerId"], "customerId")
    if not await customers.exists(org, cid):
        extra = {col: str(row[k]) for k, col in CUSTOMER_FIELDS.items() if row.get(k) not in (None, "")}
        if not extra:
            raise fail(1026, "customerId", f"customer {cid} does not exist and the row carries no identifier")
        customers.add(Customer(org_id=org, id=cid, status_label="Active", created_at=now, updated_at=now, **extra))
        await customers.flush()
        result.customers += 1
    if row.get("badgeMetaId") in (None, ""):
        return  # a customer-only row
    meta = await repo.meta(row["badgeMetaId"])
    if meta is None:
        raise fail(1054, "badgeMetaId", f"badge {row['badgeMetaId']} not found")
    at = times.field(row, "earnEventDate", required=True)
    expires = times.field(row, "earnExpiresOn") or meta.expires_on
    assert at is not None
    earn = BadgeEarn(
        id=object_id(), org_id=org, badge_id=meta.id, customer_id=cid, issue_id=None, earned_at=now, event_date=at,
        expires_at=expires, active=True, owner_type="Historical_Import", owner_ref=None, request_id=None,
    )  # fmt: skip
    repo.add(earn)
    await repo.flush()
    await record(s, org_id=org, actor="cli", action="badge.earn_imported", subject_type="badge_earn",
                 subject_id=earn.id, data={"badgeMetaId": meta.id, "customerId": cid})  # fmt: skip
    result.earns += 1
