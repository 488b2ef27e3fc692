"""The earn path's queries: its checks in one round trip, limit counts, and its Core inserts (earn, requestId).

BadgeRepository inherits them; they are apart because every one is built once with bind parameters and
counted per call (tests/perf), unlike the catalog's ad hoc reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Insert, Select, bindparam, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.badges.models import BadgeClaim, BadgeEarn, BadgeIdempotency
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.customers.models import Customer

# Plain Core tables for the earn path's inserts: no ORM unit of work, no autoflush of pending audit rows.
EARNS = core_table(BadgeEarn)
IDEMPOTENCY = core_table(BadgeIdempotency)
CLAIMS = core_table(BadgeClaim)
_CUSTOMERS = core_table(Customer)

# One limit count: (customer id, or None for the whole badge; [start, end) window, or None for all time).
CountKey = tuple[int | None, tuple[datetime, datetime] | None]

# The earn path's statements are built once per shape with bind parameters and reused: building a select and
# its cache key cost more Python than running it, and a reused statement's cache key is memoised (see
# workflows/counts.py's seek). Every one of them binds the org (`:org`); the repository always passes it.
INSERT_EARN: Insert = insert(EARNS)
INSERT_IDEMPOTENCY: Insert = insert(IDEMPOTENCY)


def claim_where() -> list[ColumnElement[bool]]:
    return [
        CLAIMS.c.org_id == bindparam("org"),
        CLAIMS.c.badge_id == bindparam("badge"),
        CLAIMS.c.owner_type == bindparam("owner_type"),
        CLAIMS.c.reference_id == bindparam("reference_id"),
        CLAIMS.c.active.is_(True),
    ]


@cache
def _count_statement(per_customer: bool, windowed: bool, suffix: str = "") -> Select[Any]:
    """Active earns of `:badge`, of `:customer{suffix}` if per customer, in [`:from{suffix}`, `:until{suffix}`)
    if windowed; `suffix` tells apart several counts inside one statement (BadgeRepository.facts)."""
    where = [EARNS.c.org_id == bindparam("org"), EARNS.c.badge_id == bindparam("badge"), EARNS.c.active.is_(True)]
    if per_customer:
        where.append(EARNS.c.customer_id == bindparam(f"customer{suffix}"))
    if windowed:
        where += [
            EARNS.c.event_date >= bindparam(f"from{suffix}"),
            EARNS.c.event_date < bindparam(f"until{suffix}"),
        ]
    return select(func.count()).select_from(EARNS).where(*where)


def _count_params(key: CountKey, suffix: str = "") -> dict[str, Any]:
    customer_id, window = key
    params: dict[str, Any] = {}
    if customer_id is not None:
        params[f"customer{suffix}"] = customer_id
    if window is not None:
        params[f"from{suffix}"], params[f"until{suffix}"] = window
    return params


@cache
def _facts_statement(
    remembered: bool, claim: bool, customer: bool, counts: tuple[tuple[bool, bool], ...]
) -> Select[Any]:
    """BadgeRepository.facts's one SELECT for one shape: which checks are asked, and each count's shape."""
    columns: list[ColumnElement[Any]] = []
    if remembered:
        original = select(IDEMPOTENCY.c.response).where(
            IDEMPOTENCY.c.org_id == bindparam("org"),
            IDEMPOTENCY.c.operation == bindparam("operation"),
            IDEMPOTENCY.c.request_id == bindparam("request_id"),
        )
        columns.append(original.scalar_subquery().label("original"))
    if claim:
        columns.append(exists().where(*claim_where()).label("claimed"))
    if customer:
        known = exists().where(_CUSTOMERS.c.org_id == bindparam("org"), _CUSTOMERS.c.id == bindparam("customer"))
        columns.append(known.label("customer_known"))
    for i, (per_customer, windowed) in enumerate(counts):
        count = _count_statement(per_customer, windowed, f"_{i}")
        columns.append(count.scalar_subquery().label(f"count_{i}"))
    return select(*columns)


@dataclass
class Facts:
    """What an earn checks after it holds the badge lock, read in one statement (see `facts`)."""

    original: dict[str, Any] | None = None  # the remembered result of this requestId, if any
    claimed: bool | None = None  # whether the trigger names an active claim (None: not asked)
    customer_known: bool | None = None  # whether the customer id exists in the org (None: not asked)
    counts: dict[CountKey, int] = field(default_factory=dict)


class EarnQueries:
    """The earn path's queries for one org (BadgeRepository's base)."""

    def __init__(self, session: AsyncSession, org_id: int) -> None:
        self.s = session
        self.org = org_id

    # -- the earn path's checks in one round trip -------------------------------------------------------
    async def facts(
        self,
        badge_id: str,
        *,
        operation: str | None = None,
        request_id: str | None = None,
        claim: tuple[str, str] | None = None,
        customer_id: int | None = None,
        counts: Sequence[CountKey] = (),
    ) -> Facts:
        """The requestId's remembered result, the trigger's claim, the customer's existence and limit counts,
        each only if asked, as scalar subqueries of one SELECT.

        Callers holding the badge lock run this *after* the locking statement, never inside it: on PostgreSQL
        a statement's snapshot is taken before it waits for the lock, so only a later statement sees what the
        earn that held the lock committed (its earn, its requestId)."""
        remembered = operation is not None and request_id is not None
        keys = list(dict.fromkeys(counts))
        out = Facts()
        if not (remembered or claim is not None or customer_id is not None or keys):
            return out
        params: dict[str, Any] = {"org": self.org, "badge": badge_id}
        if remembered:
            params |= {"operation": operation, "request_id": request_id}
        if claim is not None:
            params["owner_type"], params["reference_id"] = claim
        if customer_id is not None:
            params["customer"] = customer_id
        for i, key in enumerate(keys):
            params |= _count_params(key, f"_{i}")
        shape = tuple((key[0] is not None, key[1] is not None) for key in keys)
        stmt = _facts_statement(remembered, claim is not None, customer_id is not None, shape)
        row = (await execute(self.s, stmt, params)).one()._mapping
        out.original = row.get("original")
        out.claimed = bool(row["claimed"]) if "claimed" in row else None
        out.customer_known = bool(row["customer_known"]) if "customer_known" in row else None
        out.counts = {key: int(row[f"count_{i}"] or 0) for i, key in enumerate(keys)}
        return out

    async def count_earns(
        self, badge_id: str, customer_id: int | None, window: tuple[datetime, datetime] | None
    ) -> int:
        """Active (not revoked) earns of the badge, for one customer or all, inside `window` if given."""
        stmt = _count_statement(customer_id is not None, window is not None)
        params = {"org": self.org, "badge": badge_id, **_count_params((customer_id, window))}
        return (await execute(self.s, stmt, params)).scalar() or 0

    # -- writes -----------------------------------------------------------------------------------------
    async def insert_earn(self, values: dict[str, Any]) -> None:
        # On the transaction's connection, like every statement of the earn path: nothing pending in the session
        # is flushed by it (core/execute.py).
        await execute(self.s, INSERT_EARN, {"org_id": self.org, **values})

    # -- idempotency ------------------------------------------------------------------------------------
    async def remembered(self, operation: str, request_id: str) -> dict[str, Any] | None:
        row = await self.s.get(BadgeIdempotency, (self.org, operation, request_id))
        return row.response if row is not None else None

    async def remember(self, operation: str, request_id: str, response: dict[str, Any], now: datetime) -> None:
        """Keep the first result of a requestId; a concurrent twin fails here on the primary key."""
        values = {"operation": operation, "request_id": request_id, "response": response, "created_at": now}
        await execute(self.s, INSERT_IDEMPOTENCY, {"org_id": self.org, **values})
