"""Every badges query, always scoped to one org (the repository is built for that org)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Insert, Select, Table, bindparam, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.badges.models import (
    BadgeClaim,
    BadgeCustomField,
    BadgeEarn,
    BadgeGroup,
    BadgeIdempotency,
    BadgeIssue,
    BadgeMeta,
)
from foureyes.core.dialect import dialect_name, locked_on
from foureyes.customers.models import Customer

# Plain Core tables for the earn path's inserts: no ORM unit of work, no autoflush of pending audit rows.
EARNS: Table = BadgeEarn.__table__  # type: ignore[assignment]
IDEMPOTENCY: Table = BadgeIdempotency.__table__  # type: ignore[assignment]

# One limit count: (customer id, or None for the whole badge; [start, end) window, or None for all time).
CountKey = tuple[int | None, tuple[datetime, datetime] | None]

# The earn path's statements are built once per shape with bind parameters and reused: building a select and
# its cache key cost more Python than running it, and a reused statement's cache key is memoised (see
# workflows/counts.py's seek). Every one of them binds the org (`:org`); the repository always passes it.
INSERT_EARN: Insert = insert(EARNS)
INSERT_IDEMPOTENCY: Insert = insert(IDEMPOTENCY)


@cache
def _meta_statement(lock_dialect: str | None) -> Select[Any]:
    """The org's badge by id; with a dialect, row-locked as that dialect locks (see BadgeRepository.meta)."""
    stmt: Select[Any] = select(BadgeMeta).where(BadgeMeta.org_id == bindparam("org"), BadgeMeta.id == bindparam("id"))
    if lock_dialect is not None:
        stmt = locked_on(stmt, lock_dialect).execution_options(populate_existing=True)
    return stmt


def _claim_where() -> list[ColumnElement[bool]]:
    return [
        BadgeClaim.org_id == bindparam("org"),
        BadgeClaim.badge_id == bindparam("badge"),
        BadgeClaim.owner_type == bindparam("owner_type"),
        BadgeClaim.reference_id == bindparam("reference_id"),
        BadgeClaim.active.is_(True),
    ]


@cache
def _count_statement(per_customer: bool, windowed: bool, suffix: str = "") -> Select[Any]:
    """Active earns of `:badge`, of `:customer{suffix}` if per customer, in [`:from{suffix}`, `:until{suffix}`)
    if windowed; `suffix` tells apart several counts inside one statement (BadgeRepository.facts)."""
    where = [BadgeEarn.org_id == bindparam("org"), BadgeEarn.badge_id == bindparam("badge"), BadgeEarn.active.is_(True)]
    if per_customer:
        where.append(BadgeEarn.customer_id == bindparam(f"customer{suffix}"))
    if windowed:
        where += [
            BadgeEarn.event_date >= bindparam(f"from{suffix}"),
            BadgeEarn.event_date < bindparam(f"until{suffix}"),
        ]
    return select(func.count()).select_from(BadgeEarn).where(*where)


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
        original = select(BadgeIdempotency.response).where(
            BadgeIdempotency.org_id == bindparam("org"),
            BadgeIdempotency.operation == bindparam("operation"),
            BadgeIdempotency.request_id == bindparam("request_id"),
        )
        columns.append(original.scalar_subquery().label("original"))
    if claim:
        columns.append(exists().where(*_claim_where()).label("claimed"))
    if customer:
        known = exists().where(Customer.org_id == bindparam("org"), Customer.id == bindparam("customer"))
        columns.append(known.label("customer_known"))
    for i, (per_customer, windowed) in enumerate(counts):
        count = _count_statement(per_customer, windowed, f"_{i}")
        columns.append(count.scalar_subquery().label(f"count_{i}"))
    return select(*columns)


_ACTIVE_ISSUE: Select[Any] = (
    select(BadgeIssue)
    .where(
        BadgeIssue.org_id == bindparam("org"),
        BadgeIssue.badge_id == bindparam("badge"),
        BadgeIssue.customer_id == bindparam("customer"),
        BadgeIssue.status == "ACTIVE",
        BadgeIssue.expires_at > bindparam("now"),
    )
    .order_by(BadgeIssue.issued_at.desc())
    .limit(1)
)
_ALL_METAS: Select[Any] = select(BadgeMeta).where(BadgeMeta.org_id == bindparam("org"))
_ALL_GROUPS: Select[Any] = (
    select(BadgeGroup).where(BadgeGroup.org_id == bindparam("org")).order_by(BadgeGroup.created_at, BadgeGroup.id)
)
_CLAIMS: Select[Any] = (
    select(BadgeClaim)
    .where(BadgeClaim.org_id == bindparam("org"), BadgeClaim.badge_id.in_(bindparam("badges", expanding=True)))
    .order_by(BadgeClaim.id)
)


@cache
def _customer_rows(model: Any, per_badge: bool, order: str) -> Select[Any]:
    """A customer's earns or issues (`model`), of one badge or all, in `order` (a column name)."""
    where = [model.org_id == bindparam("org"), model.customer_id == bindparam("customer")]
    if per_badge:
        where.append(model.badge_id == bindparam("badge"))
    return select(model).where(*where).order_by(getattr(model, order))


def _customer_rows_params(
    model: Any, order: str, org: int, badge_id: str | None, customer_id: int
) -> tuple[Select[Any], dict[str, Any]]:
    params: dict[str, Any] = {"org": org, "customer": customer_id}
    if badge_id is not None:
        params["badge"] = badge_id
    return _customer_rows(model, badge_id is not None, order), params


@dataclass
class Facts:
    """What an earn checks after it holds the badge lock, read in one statement (see `facts`)."""

    original: dict[str, Any] | None = None  # the remembered result of this requestId, if any
    claimed: bool | None = None  # whether the trigger names an active claim (None: not asked)
    customer_known: bool | None = None  # whether the customer id exists in the org (None: not asked)
    counts: dict[CountKey, int] = field(default_factory=dict)


class BadgeRepository:
    def __init__(self, session: AsyncSession, org_id: int) -> None:
        self.s = session
        self.org = org_id

    # -- badge meta -------------------------------------------------------------------------------------
    async def meta(self, badge_id: Any, *, lock: bool = False) -> BadgeMeta | None:
        """The org's badge, or None (another org's id looks exactly like an unknown one)."""
        if not isinstance(badge_id, str) or len(badge_id) > 24:
            return None
        # A lock serialises every earn of this badge on PostgreSQL, so limit counts and the idempotency
        # check see each other's commits; SQLite's single writer already does this.
        stmt = _meta_statement(dialect_name(self.s) if lock else None)
        return (await self.s.scalars(stmt, {"org": self.org, "id": badge_id})).one_or_none()

    async def meta_by_name(self, name: str) -> BadgeMeta | None:
        return await self.s.scalar(select(BadgeMeta).where(BadgeMeta.org_id == self.org, BadgeMeta.name == name))

    async def metas(self, filters: list[Any], order: list[Any], offset: int, limit: int) -> tuple[list[BadgeMeta], int]:
        where = [BadgeMeta.org_id == self.org, *filters]
        total = await self.s.scalar(select(func.count()).select_from(BadgeMeta).where(*where)) or 0
        rows = await self.s.scalars(select(BadgeMeta).where(*where).order_by(*order).offset(offset).limit(limit))
        return list(rows), total

    async def all_metas(self, filters: list[Any]) -> list[BadgeMeta]:
        if not filters:  # the customer views' read: prebuilt
            return list(await self.s.scalars(_ALL_METAS, {"org": self.org}))
        return list(await self.s.scalars(select(BadgeMeta).where(BadgeMeta.org_id == self.org, *filters)))

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
        with self.s.no_autoflush:  # see insert_earn
            row = (await self.s.execute(stmt, params)).one()._mapping
        out.original = row.get("original")
        out.claimed = bool(row["claimed"]) if "claimed" in row else None
        out.customer_known = bool(row["customer_known"]) if "customer_known" in row else None
        out.counts = {key: int(row[f"count_{i}"] or 0) for i, key in enumerate(keys)}
        return out

    async def insert_earn(self, values: dict[str, Any]) -> None:
        # The earn path's statements leave pending ORM rows (its audit events) to the commit's one flush, so a
        # bulk earn writes its audit rows and chain head once rather than once per item; none reads them.
        with self.s.no_autoflush:
            await self.s.execute(INSERT_EARN, {"org_id": self.org, **values})

    # -- claims -----------------------------------------------------------------------------------------
    async def claims(self, badge_ids: Sequence[str]) -> dict[str, list[BadgeClaim]]:
        out: dict[str, list[BadgeClaim]] = {b: [] for b in badge_ids}
        if badge_ids:
            rows = await self.s.scalars(_CLAIMS, {"org": self.org, "badges": list(badge_ids)})
            for c in rows:
                out[c.badge_id].append(c)
        return out

    async def active_claim(self, badge_id: str, owner_type: str, reference_id: str) -> BadgeClaim | None:
        params = {"org": self.org, "badge": badge_id, "owner_type": owner_type, "reference_id": reference_id}
        return await self.s.scalar(select(BadgeClaim).where(*_claim_where()), params)

    # -- issues (enrolments) ----------------------------------------------------------------------------
    async def active_issue(self, badge_id: str, customer_id: int, now: datetime) -> BadgeIssue | None:
        params = {"org": self.org, "badge": badge_id, "customer": customer_id, "now": now}
        return await self.s.scalar(_ACTIVE_ISSUE, params)

    async def issues(self, badge_id: str | None, customer_id: int) -> list[BadgeIssue]:
        stmt, params = _customer_rows_params(BadgeIssue, "issued_at", self.org, badge_id, customer_id)
        return list(await self.s.scalars(stmt, params))

    async def issue(self, issue_id: Any) -> BadgeIssue | None:
        if not isinstance(issue_id, str):
            return None
        return await self.s.scalar(select(BadgeIssue).where(BadgeIssue.org_id == self.org, BadgeIssue.id == issue_id))

    async def issue_counts(self, badge_ids: Sequence[str]) -> dict[str, int]:
        if not badge_ids:
            return {}
        rows = await self.s.execute(
            select(BadgeIssue.badge_id, func.count())
            .where(BadgeIssue.org_id == self.org, BadgeIssue.badge_id.in_(list(badge_ids)))
            .where(BadgeIssue.status == "ACTIVE")
            .group_by(BadgeIssue.badge_id)
        )
        return {b: int(n) for b, n in rows.all()}

    # -- earns ------------------------------------------------------------------------------------------
    async def count_earns(
        self, badge_id: str, customer_id: int | None, window: tuple[datetime, datetime] | None
    ) -> int:
        """Active (not revoked) earns of the badge, for one customer or all, inside `window` if given."""
        stmt = _count_statement(customer_id is not None, window is not None)
        params = {"org": self.org, "badge": badge_id, **_count_params((customer_id, window))}
        return await self.s.scalar(stmt, params) or 0

    async def earn_counts(self, badge_ids: Sequence[str]) -> dict[str, int]:
        if not badge_ids:
            return {}
        rows = await self.s.execute(
            select(BadgeEarn.badge_id, func.count())
            .where(BadgeEarn.org_id == self.org, BadgeEarn.badge_id.in_(list(badge_ids)), BadgeEarn.active.is_(True))
            .group_by(BadgeEarn.badge_id)
        )
        return {b: int(n) for b, n in rows.all()}

    async def earn(self, earn_id: Any) -> BadgeEarn | None:
        if not isinstance(earn_id, str):
            return None
        return await self.s.scalar(select(BadgeEarn).where(BadgeEarn.org_id == self.org, BadgeEarn.id == earn_id))

    async def earns(self, badge_id: str | None, customer_id: int) -> list[BadgeEarn]:
        stmt, params = _customer_rows_params(BadgeEarn, "earned_at", self.org, badge_id, customer_id)
        return list(await self.s.scalars(stmt, params))

    async def customer_badge_ids(self, customer_id: int) -> set[str]:
        earned = await self.s.scalars(
            select(BadgeEarn.badge_id).where(BadgeEarn.org_id == self.org, BadgeEarn.customer_id == customer_id)
        )
        issued = await self.s.scalars(
            select(BadgeIssue.badge_id).where(BadgeIssue.org_id == self.org, BadgeIssue.customer_id == customer_id)
        )
        return set(earned) | set(issued)

    # -- idempotency ------------------------------------------------------------------------------------
    async def remembered(self, operation: str, request_id: str) -> dict[str, Any] | None:
        row = await self.s.get(BadgeIdempotency, (self.org, operation, request_id))
        return row.response if row is not None else None

    async def remember(self, operation: str, request_id: str, response: dict[str, Any], now: datetime) -> None:
        """Keep the first result of a requestId; a concurrent twin fails here on the primary key."""
        values = {"operation": operation, "request_id": request_id, "response": response, "created_at": now}
        with self.s.no_autoflush:  # see insert_earn
            await self.s.execute(INSERT_IDEMPOTENCY, {"org_id": self.org, **values})

    # -- groups and custom fields -----------------------------------------------------------------------
    async def group(self, group_id: Any) -> BadgeGroup | None:
        if not isinstance(group_id, str):
            return None
        return await self.s.scalar(select(BadgeGroup).where(BadgeGroup.org_id == self.org, BadgeGroup.id == group_id))

    async def group_by_name(self, name: str) -> BadgeGroup | None:
        return await self.s.scalar(select(BadgeGroup).where(BadgeGroup.org_id == self.org, BadgeGroup.name == name))

    async def groups(self, ids: Sequence[str] | None = None) -> list[BadgeGroup]:
        if ids is None:  # the customer views' read: prebuilt
            return list(await self.s.scalars(_ALL_GROUPS, {"org": self.org}))
        stmt = select(BadgeGroup).where(BadgeGroup.org_id == self.org)
        if ids is not None:
            stmt = stmt.where(BadgeGroup.id.in_(list(ids)))
        return list(await self.s.scalars(stmt.order_by(BadgeGroup.created_at, BadgeGroup.id)))

    async def custom_field(self, field_id: Any) -> BadgeCustomField | None:
        if not isinstance(field_id, str):
            return None
        return await self.s.scalar(
            select(BadgeCustomField).where(BadgeCustomField.org_id == self.org, BadgeCustomField.id == field_id)
        )

    async def custom_field_by_name(self, name: str) -> BadgeCustomField | None:
        return await self.s.scalar(
            select(BadgeCustomField).where(BadgeCustomField.org_id == self.org, BadgeCustomField.name == name)
        )

    async def custom_fields(self, active: bool | None) -> list[BadgeCustomField]:
        stmt = select(BadgeCustomField).where(BadgeCustomField.org_id == self.org)
        if active is not None:
            stmt = stmt.where(BadgeCustomField.active.is_(active))
        return list(await self.s.scalars(stmt.order_by(BadgeCustomField.updated_at, BadgeCustomField.id)))

    def add(self, row: object) -> None:
        self.s.add(row)

    async def flush(self) -> None:
        await self.s.flush()
