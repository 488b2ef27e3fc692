"""Read models: a customer's badges (three views) and the fixed-window cycles of a badge.

Customer views gather the org's badges and the customer's earns and issues, then filter and sort in memory:
a customer holds few badges and an org defines hundreds, not millions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from foureyes.badges import checks, limits, times
from foureyes.badges.common import bool_arg, order_arg, page_args, pagination, who
from foureyes.badges.earn_steps import badge_of
from foureyes.badges.models import BadgeClaim, BadgeEarn, BadgeGroup, BadgeIssue, BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import as_int, bad, customer_status, fail, not_found, owner_type, reject_nul, status_of
from foureyes.badges.schemas import claim_wire
from foureyes.core.context import AppContext
from foureyes.identity.principal import Principal

MGMT_TYPES = ("AVAILABLE_TO_ISSUE", "AVAILABLE", "EARNED", "EXPIRED")
MGMT_SORTS = (
    "EXPIRES_ON",
    "LAST_MODIFIED_DATE",
    "LAST_ISSUED_DATE",
    "LAST_EXPIRED_BADGE",
    "LAST_EARNED_EVENT_DATE",
    "LAST_EARNED_ON_DATE",
)
EPOCH0 = datetime(1970, 1, 1)


class _Facts:
    """What one customer has of one badge."""

    def __init__(self, meta: BadgeMeta, earns: list[BadgeEarn], issues: list[BadgeIssue], now: datetime) -> None:
        self.meta, self.earns, self.issues = meta, earns, issues
        self.status = status_of(meta.start_on, meta.expires_on, now)
        self.live_earns = [e for e in earns if e.active and e.expires_at > now]
        self.active_issue = next((i for i in issues if i.status == "ACTIVE" and i.expires_at > now), None)
        self.last_earn = max(earns, key=lambda e: e.earned_at, default=None)
        self.last_event = max((e.event_date for e in earns), default=None)
        self.last_issue = max((i.issued_at for i in issues), default=None)
        live = self.status == "LIVE" and meta.active
        self.available = live and (meta.earn_type == "EARN" or self.active_issue is not None)
        self.issuable = live

    def common(self, groups: dict[str, BadgeGroup]) -> dict[str, Any]:
        m = self.meta
        out: dict[str, Any] = {"badgeMetaId": m.id, "name": m.name, "description": m.doc.get("description")}
        out |= times.pair("startOn", m.start_on) | times.pair("expiresOn", m.expires_on)
        out |= {
            "earnType": m.earn_type, "badgeType": m.earn_type, "images": m.doc.get("images", []),
            "tags": m.doc.get("tags", []), "badgeGroupId": m.group_id,
            "badgeGroupName": _group_name(groups, m.group_id),
            "badgeRank": m.rank, "benefits": m.doc.get("benefits", []), "active": m.active,
            "customFields": m.doc.get("customFields", {}), "customerConstraints": m.doc.get("customerConstraints", []),
            "badgeConstraints": m.doc.get("badgeConstraints", []), "earnedCount": len(self.live_earns),
        }  # fmt: skip
        out |= times.pair("lastEarnedOnDate", self.last_earn.earned_at if self.last_earn else None)
        return out | times.pair("lastEarnEventDate", self.last_event)


def _group_name(groups: dict[str, BadgeGroup], group_id: str | None) -> str | None:
    group = groups.get(group_id or "")
    return group.name if group is not None else None


class ViewsService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def _gather(
        self, org: int, raw_customer: str, identifier: str | None, badge_id: str | None = None
    ) -> tuple[int, list[_Facts], dict[str, BadgeGroup], dict[str, list[BadgeClaim]]]:
        now = self.ctx.clock.now()
        async with self.ctx.db.read() as s:
            repo = BadgeRepository(s, org)
            cid = await checks.customer(s, org, raw_customer, identifier, "customerId")
            if badge_id is not None:
                meta = await repo.meta(badge_id)
                if meta is None:
                    raise not_found()
                metas = [meta]
            else:
                metas = await repo.all_metas([])
            earns, issues = await repo.earns(badge_id, cid), await repo.issues(badge_id, cid)
            claims = await repo.claims([m.id for m in metas])
            groups = {g.id: g for g in await repo.groups()}  # names and ranks: one read serves both
        facts = [
            _Facts(m, [e for e in earns if e.badge_id == m.id], [i for i in issues if i.badge_id == m.id], now)
            for m in metas
        ]
        return cid, facts, groups, claims

    async def customer_badges(
        self, caller: Principal | int, customer: str, q: dict[str, Any], identifier: str | None
    ) -> dict[str, Any]:
        """GET customer/{id}: badges the customer holds or can earn."""
        org, _ = who(caller)
        reject_nul(q, "query")
        kind = str(q.get("badgeType") or "").upper()
        if kind not in ("", "AVAILABLE", "EARNED"):
            raise bad("badgeType must be AVAILABLE or EARNED", "badgeType")
        include_expired = bool_arg(q.get("includeExpired"), "includeExpired")
        _, limit = page_args(0, q.get("limit"))
        sort = str(q.get("sortOn") or "RANK").upper()
        if sort not in ("RANK", "LAST_EARNED_ON_DATE", "LAST_EARNED_EVENT_DATE"):
            raise bad("sortOn must be RANK, LAST_EARNED_ON_DATE or LAST_EARNED_EVENT_DATE", "sortOn")
        _, facts, groups, _ = await self._gather(org, customer, identifier)
        ranks = {gid: g.rank for gid, g in groups.items()}
        chosen = []
        for f in facts:
            earned = bool(f.live_earns) or (include_expired and bool(f.earns))
            if (
                (kind == "EARNED" and earned)
                or (kind == "AVAILABLE" and f.available)
                or (kind == "" and (earned or f.available))
            ):
                chosen.append(f)
        if sort == "RANK":
            # Higher group rank first; inside a group ranked badges first; then later expiry first.
            chosen.sort(
                key=lambda f: (
                    -(ranks.get(f.meta.group_id or "", -(10**9))),
                    f.meta.rank is None,
                    f.meta.rank or 0,
                    -(f.meta.expires_on - EPOCH0).total_seconds(),
                )
            )
        else:
            attr = "last_event" if sort == "LAST_EARNED_EVENT_DATE" else "last_earn"
            chosen.sort(key=lambda f: _when(getattr(f, attr)), reverse=True)
        if q.get("groupId"):
            chosen = [f for f in chosen if f.meta.group_id == q["groupId"]]
        return {"badges": [f.common(groups) for f in chosen[:limit]]}

    async def management(
        self, caller: Principal | int, customer: str, q: dict[str, Any], identifier: str | None
    ) -> dict[str, Any]:
        """GET management/{id}: the customer's badges for an operator, filtered and paginated."""
        org, _ = who(caller)
        reject_nul(q, "query")
        page, size = page_args(q.get("page"), q.get("size"))
        kind = str(q.get("badgeType") or "AVAILABLE_TO_ISSUE").upper()
        if kind not in MGMT_TYPES:
            raise bad(f"badgeType must be one of {', '.join(MGMT_TYPES)}", "badgeType")
        sort = str(q.get("sortOn") or "EXPIRES_ON").upper()
        if sort not in MGMT_SORTS:
            raise bad(f"sortOn must be one of {', '.join(MGMT_SORTS)}", "sortOn")
        desc = order_arg(q.get("order")) == "DESC"
        owner = owner_type(q["owner"], reference="owner") if q.get("owner") else None
        claimed_by = owner_type(q["claimedBy"], reference="claimedBy") if q.get("claimedBy") else None
        _, facts, groups, claims = await self._gather(org, customer, identifier)
        out = []
        for f in facts:
            m = f.meta
            wanted = {
                "AVAILABLE_TO_ISSUE": f.issuable,
                "AVAILABLE": f.available,
                "EARNED": bool(f.live_earns),
                "EXPIRED": bool(f.earns) and not f.live_earns,
            }[kind]
            if not wanted or (q.get("name") and str(q["name"]).lower() not in m.name.lower()):
                continue
            if q.get("action") and (q["action"] == "ACTIVATED") != m.active:
                continue
            if q.get("badgeStatus") and customer_status(f.status) != str(q["badgeStatus"]).upper():
                continue
            if q.get("groupId") and m.group_id != q["groupId"]:
                continue
            if owner and owner not in m.doc.get("restrictedToOwners", []):
                continue
            if claimed_by and not any(c.active and c.owner_type == claimed_by for c in claims[m.id]):
                continue
            out.append(f)
        keys = {
            "EXPIRES_ON": lambda f: _when(f.meta.expires_on),
            "LAST_MODIFIED_DATE": lambda f: _when(f.meta.updated_at),
            "LAST_ISSUED_DATE": lambda f: _when(f.last_issue),
            "LAST_EXPIRED_BADGE": lambda f: _when(max((e.expires_at for e in f.earns), default=None)),
            "LAST_EARNED_EVENT_DATE": lambda f: _when(f.last_event),
            "LAST_EARNED_ON_DATE": lambda f: _when(f.last_earn.earned_at if f.last_earn else None),
        }
        out.sort(key=keys[sort], reverse=desc)
        items = []
        for f in out[page * size : (page + 1) * size]:
            m = f.meta
            item = f.common(groups) | {"badgeStatus": customer_status(f.status), "earnCount": len(f.live_earns)}
            item |= times.pair("createdOn", m.created_at) | times.pair("lastUpdatedOn", m.updated_at)
            item |= times.pair("startsOn", m.start_on) | times.pair(
                "lastEarnedOn", f.last_earn.earned_at if f.last_earn else None
            )
            item["ownership"] = {"restrictedToOwners": m.doc.get("restrictedToOwners", []),
                                 "claims": [claim_wire(c) for c in claims[m.id]]}  # fmt: skip
            item["issueStatus"] = "ACTIVE" if f.active_issue else (f.issues[-1].status if f.issues else None)
            items.append(item)
        return {"customerBadges": items, "pagination": pagination(page, size, len(out))}

    async def explode(
        self, caller: Principal | int, customer: str, badge_id: str, *, include_statistics: bool, identifier: str | None
    ) -> dict[str, Any]:
        """GET management/{id}/badge/{badgeId}: one badge of one customer in detail."""
        org, _ = who(caller)
        cid, facts, groups, claims = await self._gather(org, customer, identifier, badge_id)
        f = facts[0]
        m = f.meta
        out = f.common(groups) | {"id": m.id, "customerId": cid}
        out |= {"action": "ACTIVATED" if m.active else "DE_ACTIVATED", "badgeStatus": customer_status(f.status)}
        out["owner"] = m.doc.get("restrictedToOwners", [])
        out["claimedBy"] = [claim_wire(c) for c in claims[m.id] if c.active]
        out["earnExpiry"], out["issueExpiry"] = m.doc.get("earnedBadgeExpiry"), m.doc.get("issuedBadgeExpiry")
        out["issualDetails"] = {"issuedCount": len(f.issues), "issuals": [_issual(i) for i in f.issues]}
        out["issuedStatus"] = "ACTIVE" if f.active_issue else (f.issues[-1].status if f.issues else None)
        out["earnDetails"] = {"earnCount": len(f.earns), "earns": [_earn(e) for e in f.earns]}
        out["activeEarnedCount"] = len(f.live_earns)
        now = self.ctx.clock.now()
        at = min(max(now, m.start_on), m.expires_on)
        async with self.ctx.db.read() as s:
            report = await checks.limit_report(BadgeRepository(s, org), m, cid, at)
        constraints = []
        for lim, entry in zip(limits.all_limits(m.doc), report, strict=True):
            c: dict[str, Any] = {
                "constraintLevel": lim.level, "constraintType": "OVERALL" if lim.kind == "FIXED_VALUE" else lim.kind,
                "maxEarnLimit": lim.max_earn, "rollType": lim.unit if lim.kind == "ROLLING_WINDOW" else None,
                "rollValue": lim.amount if lim.kind == "ROLLING_WINDOW" else None,
                "durationType": lim.unit if lim.kind == "FIXED_WINDOW" else None,
                "refreshRate": lim.amount if lim.kind == "FIXED_WINDOW" else None,
                "startDayOfTheWeek": lim.start_day if lim.kind == "FIXED_WINDOW" else None,
                "fixedWindowReferenceId": lim.reference_id,
            }  # fmt: skip
            if lim.kind == "FIXED_WINDOW" and "window" in entry:
                c["fixedWindowCycle"] = {k: entry["window"][k] for k in ("startDate", "endDate")}
                c["cycleStatus"] = "UPCOMING" if now < m.start_on else "ACTIVE"
            if include_statistics:
                c["earnConstraintBlockStatistics"] = {"currentEarnCount": entry["currentEarnCount"]}
            constraints.append(c)
        out["constraints"] = constraints
        return out

    async def fixed_windows(self, caller: Principal | int, q: dict[str, Any]) -> dict[str, Any]:
        """GET badgeMeta/getFixedWindowDetails: the cycles of a badge's fixed-window limits."""
        org, _ = who(caller)
        reject_nul(q, "query")
        level = str(q.get("constraintType") or "ALL").upper()
        if level not in ("ALL", "BADGE", "CUSTOMER"):
            raise bad("constraintType must be BADGE, CUSTOMER or ALL", "constraintType")
        with_counts = bool_arg(q.get("includeEarnCount"), "includeEarnCount")
        page, size = page_args(q.get("page"), q.get("size"))
        cid = as_int(q["customerId"], "customerId") if q.get("customerId") else None
        if with_counts and level in ("CUSTOMER", "ALL") and cid is None:
            raise fail(812, "customerId")
        async with self.ctx.db.read() as s:
            repo = BadgeRepository(s, org)
            meta = await badge_of(repo, q, lock=False)  # query values are strings: "" and absent are alike
            start = times.field(q, "startDate") or meta.start_on
            end = times.field(q, "endDate") or meta.expires_on
            rows: list[tuple[dict[str, Any], str, datetime, datetime]] = []
            for lim in limits.all_limits(meta.doc):
                if lim.kind != "FIXED_WINDOW" or (level != "ALL" and lim.level != level):
                    continue
                for k, c_start, c_end in limits.cycles(lim, meta.start_on, meta.expires_on):
                    ref = f"{lim.reference_id}_{k}"
                    if c_end <= start or c_start >= end:
                        continue
                    if q.get("fixedWindowCycleReferenceId") and q["fixedWindowCycleReferenceId"] != ref:
                        continue
                    row: dict[str, Any] = {"fixedWindowCycleReferenceId": ref, "constraintType": lim.level}
                    row |= times.pair("startDate", c_start) | times.pair("endDate", c_end)
                    rows.append((row, lim.level, c_start, c_end))
            # Count only the page asked for: a long badge with daily cycles has thousands of them.
            for row, lim_level, c_start, c_end in rows[page * size : (page + 1) * size]:
                if with_counts:
                    who_ = cid if lim_level == "CUSTOMER" else None
                    row["earnCount"] = await repo.count_earns(meta.id, who_, (c_start, c_end))
        total = len(rows)
        out: dict[str, Any] = {"badgeMetaId": meta.id, "orgId": org, "customerId": cid}
        out |= times.pair("startDate", start) | times.pair("endDate", end)
        out["fixedWindowCycles"] = [r[0] for r in rows[page * size : (page + 1) * size]]
        return out | {"pagination": pagination(page, size, total)}


def _when(value: datetime | None) -> float:
    return (value - EPOCH0).total_seconds() if value is not None else float("-inf")


def _issual(i: BadgeIssue) -> dict[str, Any]:
    out: dict[str, Any] = {"issueId": i.id, "issuedStatus": i.status, "ownerType": i.owner_type,
                           "ownerReferenceId": i.owner_ref}  # fmt: skip
    out |= times.pair("issuedOn", i.issued_at) | times.pair("issueExpiresOn", i.expires_at)
    return out | times.pair("revokedOn", i.revoked_at) | times.pair("issueEventDate", i.event_date)


def _earn(e: BadgeEarn) -> dict[str, Any]:
    out: dict[str, Any] = {"earnedBadgeId": e.id, "isActive": e.active, "issuedId": e.issue_id}
    out |= {"ownerType": e.owner_type, "ownerReferenceId": e.owner_ref, "requestId": e.request_id}
    out |= times.pair("earnedOn", e.earned_at) | times.pair("earnEventDate", e.event_date)
    return out | times.pair("expiresOn", e.expires_at) | times.pair("revokedOn", e.revoked_at)
