"""Every badges query, always scoped to one org (the repository is built for that org).

The earn path's own queries (its checks in one round trip, limit counts, its inserts) are in earn_queries.py,
which BadgeRepository inherits. Statements read on hot paths are built once with bind parameters, as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from foureyes.badges.earn_queries import EarnQueries, claim_where
from foureyes.badges.models import BadgeClaim, BadgeCustomField, BadgeEarn, BadgeGroup, BadgeIssue, BadgeMeta
from foureyes.core.dialect import dialect_name, locked_on


@cache
def _meta_statement(lock_dialect: str | None) -> Select[Any]:
    """The org's badge by id; with a dialect, row-locked as that dialect locks (see BadgeRepository.meta)."""
    stmt: Select[Any] = select(BadgeMeta).where(BadgeMeta.org_id == bindparam("org"), BadgeMeta.id == bindparam("id"))
    if lock_dialect is not None:
        stmt = locked_on(stmt, lock_dialect).execution_options(populate_existing=True)
    return stmt


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


class BadgeRepository(EarnQueries):
    """The org's badges, groups, custom fields, claims, enrolments and earns (see EarnQueries for the earn path)."""

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
        return await self.s.scalar(select(BadgeClaim).where(*claim_where()), params)

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

    # -- earns (the earn path's own queries are EarnQueries') -------------------------------------------
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
