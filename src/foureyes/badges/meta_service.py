"""Badge meta: create, update, list, get, activate/deactivate, claim and unclaim."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_

from foureyes.audit.service import record
from foureyes.badges import limits, times
from foureyes.badges.common import bool_arg, order_arg, page_args, pagination, who
from foureyes.badges.models import BadgeClaim, BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import (
    EARN_TYPES,
    bad,
    fail,
    not_found,
    owner_type,
    parse_status_filter,
    reject_nul,
    status_of,
)
from foureyes.badges.schemas import MetaInput, meta_wire, parse_meta
from foureyes.core.context import AppContext
from foureyes.core.ids import object_id
from foureyes.identity.principal import Principal

MAX_PAST_YEARS = 100
SORTS = {"ID": BadgeMeta.id, "NAME": BadgeMeta.name, "START_DATE": BadgeMeta.start_on}


class MetaService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def _check_refs(self, repo: BadgeRepository, data: MetaInput) -> None:
        if data.group_id is not None and await repo.group(data.group_id) is None:
            raise not_found("Badge group not found", "badgeGroupId")

    async def create(self, caller: Principal | int, body: Any, *, migration: bool = False) -> dict[str, Any]:
        """Create a badge; a past start is allowed only for migrations (X-CAP-BADGES-MIGRATION)."""
        org, actor = who(caller)
        data = parse_meta(body)
        now = self.ctx.clock.now()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if migration:
            if data.start_on < times.add_months(now, -12 * MAX_PAST_YEARS):
                raise fail(722, "startOn", "Start Date cannot be set more than 100 years in the past")
        elif data.start_on < today:
            # Day granularity: a badge that starts "today" may be created at any time of the day.
            raise fail(722, "startOn")
        if data.start_on >= data.expires_on:
            raise fail(720, "expiresOn")
        if data.expires_on <= now:
            raise fail(724, "expiresOn")
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            if await repo.meta_by_name(data.name) is not None:
                raise fail(725, "name")
            await self._check_refs(repo, data)
            meta = BadgeMeta(
                id=object_id(),
                org_id=org,
                name=data.name,
                earn_type=data.earn_type,
                start_on=data.start_on,
                expires_on=data.expires_on,
                active=data.active,
                group_id=data.group_id,
                rank=data.rank,
                doc=data.doc,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
            repo.add(meta)
            await repo.flush()
            await record(
                s, org_id=org, actor=actor, action="badge.created", subject_type="badge", subject_id=meta.id,
                data={"name": meta.name},
            )  # fmt: skip
            return meta_wire(meta, [], now)

    async def update(self, caller: Principal | int, body: Any) -> dict[str, Any]:
        """Replace a badge's definition (body carries `id`)."""
        org, actor = who(caller)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise bad("id is required", "id")
        data = parse_meta(body)
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            meta = await repo.meta(body["id"], lock=True)
            if meta is None:
                raise not_found(reference="id")
            status = status_of(meta.start_on, meta.expires_on, now)
            if data.start_on != meta.start_on and status != "UPCOMING":
                raise fail(723, "startOn")
            if data.start_on >= data.expires_on:
                raise fail(720, "expiresOn")
            if data.expires_on != meta.expires_on and data.expires_on <= now:
                raise fail(724, "expiresOn")
            other = await repo.meta_by_name(data.name)
            if other is not None and other.id != meta.id:
                raise fail(725, "name")
            for key, level in (("customerConstraints", "CUSTOMER"), ("badgeConstraints", "BADGE")):
                limits.check_switch(meta.doc.get(key) or [], data.doc[key], level, key)
                _keep_cycle_ids(meta.doc.get(key) or [], data.doc[key])
            claims = (await repo.claims([meta.id]))[meta.id]
            active_owners = {c.owner_type for c in claims if c.active}
            removed = active_owners - set(data.doc["restrictedToOwners"])
            if removed:
                raise fail(714, "ownership.restrictedToOwners", f"Owner {sorted(removed)[0]} has an active claim")
            await self._check_refs(repo, data)
            meta.name, meta.earn_type, meta.active = data.name, data.earn_type, data.active
            meta.start_on, meta.expires_on = data.start_on, data.expires_on
            meta.group_id, meta.rank, meta.doc = data.group_id, data.rank, data.doc
            meta.updated_at, meta.updated_by = now, actor
            await repo.flush()
            await record(
                s, org_id=org, actor=actor, action="badge.updated", subject_type="badge", subject_id=meta.id,
                data={"name": meta.name},
            )  # fmt: skip
            return meta_wire(meta, claims, now)

    async def set_active(self, caller: Principal | int, badge_id: str, active: bool) -> dict[str, Any]:
        org, actor = who(caller)
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            meta = await repo.meta(badge_id, lock=True)
            if meta is None:
                raise not_found()
            meta.active = active
            meta.updated_at, meta.updated_by = self.ctx.clock.now(), actor
            action = "badge.activated" if active else "badge.deactivated"
            await record(s, org_id=org, actor=actor, action=action, subject_type="badge", subject_id=meta.id)
            return {"id": meta.id, "isActive": active}

    async def claim(self, caller: Principal | int, badge_id: str, body: Any, *, claim: bool) -> dict[str, Any]:
        """Claim (or soft-unclaim) a badge for an owner module."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        if body.get("ownerType") in (None, ""):
            raise fail(716, "ownerType")
        ref = body.get("referenceId")
        if isinstance(ref, int) and not isinstance(ref, bool):
            ref = str(ref)
        if not isinstance(ref, str) or not ref.strip():
            raise fail(717, "referenceId")
        owner = owner_type(body.get("ownerType"))
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            meta = await repo.meta(badge_id, lock=True)
            if meta is None:
                raise not_found()
            existing = await repo.active_claim(meta.id, owner, ref)
            if claim:
                if owner not in meta.doc.get("restrictedToOwners", []):
                    raise fail(714, "ownerType")
                if existing is None:
                    repo.add(BadgeClaim(org_id=org, badge_id=meta.id, owner_type=owner, reference_id=ref,
                                        active=True, created_at=now))  # fmt: skip
                result: dict[str, Any] = {"badgeMetaId": meta.id, "ownerType": owner, "referenceId": ref}
            else:
                if existing is None:
                    raise fail(737, "referenceId")
                existing.active, existing.revoked_at = False, now
                result = {"ownerType": owner, "referenceId": ref, "isActive": False}
            await record(
                s, org_id=org, actor=actor, action="badge.claimed" if claim else "badge.unclaimed",
                subject_type="badge", subject_id=meta.id, data={"ownerType": owner, "referenceId": ref},
            )  # fmt: skip
            return result

    async def get(self, caller: Principal | int, badge_id: str, *, include_statistics: bool) -> dict[str, Any]:
        org, _ = who(caller)
        now = self.ctx.clock.now()
        async with self.ctx.db.read() as s:
            repo = BadgeRepository(s, org)
            meta = await repo.meta(badge_id)
            if meta is None:
                raise not_found()
            claims = (await repo.claims([meta.id]))[meta.id]
            group = await repo.group(meta.group_id) if meta.group_id else None
            out = meta_wire(meta, claims, now, group_name=group.name if group else None)
            if include_statistics:
                out["issuedCount"] = (await repo.issue_counts([meta.id])).get(meta.id, 0)
                out["earnedCount"] = (await repo.earn_counts([meta.id])).get(meta.id, 0)
            return out

    async def list(self, caller: Principal | int, q: dict[str, Any]) -> dict[str, Any]:
        """The org's badges with the documented filters, paginated."""
        org, _ = who(caller)
        reject_nul(q, "query")
        now = self.ctx.clock.now()
        page, size = page_args(q.get("page"), q.get("size") or q.get("limit"))
        filters: list[Any] = []
        if q.get("name"):
            filters.append(BadgeMeta.name.contains(str(q["name"]), autoescape=True))
        for key in ("earnType", "badgeType"):
            if q.get(key):
                if q[key] not in EARN_TYPES:
                    raise bad(f"{key} must be EARN or ISSUE_EARN", key)
                filters.append(BadgeMeta.earn_type == q[key])
        if q.get("action"):
            if q["action"] not in ("ACTIVATED", "DE_ACTIVATED"):
                raise bad("action must be ACTIVATED or DE_ACTIVATED", "action")
            filters.append(BadgeMeta.active.is_(q["action"] == "ACTIVATED"))
        filters += _date_filters(q)
        statuses = parse_status_filter(q.get("status"))
        if statuses:
            filters.append(or_(*[_status_clause(st, now) for st in statuses]))
        sort = str(q.get("sortOn") or "ID").upper()
        if sort not in SORTS:
            raise bad("sortOn must be ID, NAME or START_DATE", "sortOn")
        column = SORTS[sort]
        ordering = [column.desc() if order_arg(q.get("order")) == "DESC" else column.asc(), BadgeMeta.id]
        owner = owner_type(q["owner"], reference="owner") if q.get("owner") else None
        claimed_by = owner_type(q["claimedBy"], reference="claimedBy") if q.get("claimedBy") else None
        unclaimed = bool_arg(q.get("unclaimed"), "unclaimed")
        async with self.ctx.db.read() as s:
            repo = BadgeRepository(s, org)
            if owner or claimed_by or unclaimed:
                # Owner and claim filters look into JSON and claim rows: filter in memory, then paginate.
                rows = await repo.all_metas(filters)
                claims = await repo.claims([m.id for m in rows])
                rows = [m for m in rows if _owner_match(m, claims[m.id], owner, claimed_by, unclaimed)]
                desc = order_arg(q.get("order")) == "DESC"
                rows.sort(key=lambda m: (getattr(m, column.key), m.id), reverse=desc)
                total, rows = len(rows), rows[page * size : (page + 1) * size]
            else:
                rows, total = await repo.metas(filters, ordering, page * size, size)
                claims = await repo.claims([m.id for m in rows])
            ids = [m.id for m in rows]
            issued, earned = await repo.issue_counts(ids), await repo.earn_counts(ids)
            groups = {g.id: g.name for g in await repo.groups([m.group_id for m in rows if m.group_id])}
        items = []
        for m in rows:
            item = meta_wire(m, claims[m.id], now, group_name=groups.get(m.group_id or ""))
            item |= {"issuedCount": issued.get(m.id, 0), "earnedCount": earned.get(m.id, 0)}
            items.append(item)
        return {"metaBasicDetails": items, "pagination": pagination(page, size, total)}


def _keep_cycle_ids(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """An update keeps the fixed-window series id of the constraint it replaces (same position and type)."""
    for i, c in enumerate(new):
        if i < len(old) and old[i].get("constraintType") == c.get("constraintType") and old[i].get("referenceId"):
            c["referenceId"] = old[i]["referenceId"]


def _status_clause(status: str, now: datetime) -> Any:
    if status == "UPCOMING":
        return BadgeMeta.start_on > now
    if status == "ENDED":
        return BadgeMeta.expires_on <= now
    return (BadgeMeta.start_on <= now) & (BadgeMeta.expires_on > now)


def _date_filters(q: dict[str, Any]) -> list[Any]:
    out = []
    for key, column in (("startOn", BadgeMeta.start_on), ("expiresOn", BadgeMeta.expires_on)):
        if q.get(key):
            try:
                when = times.parse(q[key])
            except times.TimeFormatError:
                raise bad(f"{key} must be an ISO-8601 time or epoch", key) from None
            op = str(q.get(f"{key}Operator") or "").upper()
            if op == "LESS_THAN":
                out.append(column < when)
            elif op == "GREATER_THAN":
                out.append(column > when)
            else:
                # Without an operator the filter names a day: badges starting/expiring on it.
                out.append((column >= when) & (column < when + timedelta(days=1)))
    return out


def _owner_match(
    m: BadgeMeta, claims: list[BadgeClaim], owner: str | None, claimed_by: str | None, unclaimed: bool
) -> bool:
    active = [c for c in claims if c.active]
    if owner and owner not in m.doc.get("restrictedToOwners", []):
        return False
    if claimed_by and not any(c.owner_type == claimed_by for c in active):
        return False
    return not (unclaimed and active)
