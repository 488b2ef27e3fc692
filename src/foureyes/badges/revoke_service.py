"""Revoking enrolments and earns, and importing historical earns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from foureyes.audit.service import record
from foureyes.badges import checks, times
from foureyes.badges.common import who
from foureyes.badges.earn_steps import MAX_BULK, badge_of, id_list
from foureyes.badges.models import BadgeEarn
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import bad, fail, item, reject_nul
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.core.ids import object_id
from foureyes.identity.principal import Principal


class RevokeService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def revoke_issue(self, caller: Principal | int, body: Any) -> dict[str, Any]:
        """Revoke enrolments: every active one of `customers`, or exactly `revokeIssuals` (which wins)."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        pairs: list[tuple[Any, Any]] = []
        if body.get("revokeIssuals"):
            raw = body["revokeIssuals"]
            if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
                raise bad("revokeIssuals must be an array of {customerId, issueId}", "revokeIssuals")
            pairs = [(r.get("customerId"), r.get("issueId")) for r in raw]
        elif body.get("customers"):
            pairs = [(c, None) for c in id_list(body["customers"], "customers", limit=20)]
        else:
            raise fail(1051, "customers")
        if len(pairs) > 20:
            raise bad("At most 20 revokeIssuals may be passed", "revokeIssuals")
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            meta = await badge_of(repo, body, lock=True)
            out: list[dict[str, Any]] = []
            for raw_cid, issue_id in pairs:
                try:
                    cid = checks.as_int(raw_cid, "customerId")
                except AppError as exc:
                    out.append({"customerId": raw_cid, "issuedId": issue_id, "error": exc.items[0].as_dict()})
                    continue
                if issue_id is not None:
                    issue = await repo.issue(issue_id)
                    if issue is None or issue.badge_id != meta.id or issue.customer_id != cid:
                        err = item(404, "issue doesn't belong to customer")
                        out.append({"customerId": cid, "issuedId": issue_id, "error": err})
                        continue
                    targets = [issue] if issue.status == "ACTIVE" else []
                else:
                    targets = [i for i in await repo.issues(meta.id, cid) if i.status == "ACTIVE"]
                if not targets:
                    err = item(404, "Customer doesn't have issue instance")
                    out.append({"customerId": cid, "issuedId": issue_id, "error": err})
                    continue
                for issue in targets:
                    issue.status, issue.revoked_at = "REVOKED", now
                    out.append({"customerId": cid, "issuedId": issue.id, "error": None})
                    await record(
                        s, org_id=org, actor=actor, action="badge.issue_revoked", subject_type="badge_issue",
                        subject_id=issue.id, data={"badgeMetaId": meta.id, "customerId": cid},
                    )  # fmt: skip
            return {"badgeMetaId": meta.id, "revokedIssuedBadges": out, "requestId": None}

    async def revoke_earn(self, caller: Principal | int, body: Any, *, identifier: str | None = None) -> dict[str, Any]:
        """Revoke one earned badge (814 when it is not active)."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        if body.get("customerId") in (None, ""):
            raise fail(812, "customerId")
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            meta = await badge_of(repo, body, lock=True)
            cid = await checks.customer(s, org, body["customerId"], identifier, "customerId")
            earn = await repo.earn(body.get("earnedBadgeId"))
            if earn is None or not earn.active or earn.badge_id != meta.id or earn.customer_id != cid:
                raise fail(814, "earnedBadgeId")
            earn.active, earn.revoked_at = False, self.ctx.clock.now()
            await record(
                s, org_id=org, actor=actor, action="badge.earn_revoked", subject_type="badge_earn", subject_id=earn.id,
                data={"badgeMetaId": meta.id, "customerId": cid},
            )  # fmt: skip
            return {"badgeMetaId": meta.id, "customerId": cid, "earnedBadgeId": earn.id, "isActive": False}

    async def import_earned(self, caller: Principal | int, body: Any) -> list[dict[str, Any]]:
        """Historical earns: no liveness, claim or limit checks; one envelope per row."""
        org, actor = who(caller)
        if not isinstance(body, list):
            raise bad("The body must be a JSON array")
        reject_nul(body)
        if len(body) > MAX_BULK:
            raise bad(f"At most {MAX_BULK} rows per call", "body")
        batch = str(uuid.uuid4())
        now = self.ctx.clock.now()
        out: list[dict[str, Any]] = []
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            for i, row in enumerate(body):
                try:
                    out.append({"data": await self._import_row(s, repo, row, i, batch, now, actor), "errors": [],
                                "warnings": []})  # fmt: skip
                except AppError as exc:
                    out.append({"data": None, "errors": [e.as_dict() for e in exc.items], "warnings": []})
        return out

    async def _import_row(
        self, s: Any, repo: BadgeRepository, row: Any, i: int, batch: str, now: datetime, actor: str
    ) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise bad("Each row must be an object", f"[{i}]")
        meta = await repo.meta(row.get("badgeMetaId"))
        if meta is None:
            raise fail(1054, f"[{i}].badgeMetaId")
        if row.get("customerId") in (None, ""):
            raise fail(812, f"[{i}].customerId")
        cid = await checks.customer(s, repo.org, row["customerId"], None, f"[{i}].customerId")
        at = times.field(row, "earnEventDate", required=True)
        expires = times.field(row, "earnExpiresOn", required=True)
        assert at is not None and expires is not None
        earn = BadgeEarn(
            id=object_id(), org_id=repo.org, badge_id=meta.id, customer_id=cid, issue_id=None, earned_at=now,
            event_date=at, expires_at=expires, active=True, owner_type="Historical_Import", owner_ref=None,
            request_id=batch,
        )  # fmt: skip
        repo.add(earn)
        await record(
            s, org_id=repo.org, actor=actor, action="badge.earn_imported", subject_type="badge_earn",
            subject_id=earn.id, data={"badgeMetaId": meta.id, "customerId": cid},
        )  # fmt: skip
        return (
            {"badgeMetaId": meta.id, "customerId": cid, "earnedBadgeId": earn.id}
            | times.pair("expiresOn", expires)
            | {"requestId": batch}
        )
