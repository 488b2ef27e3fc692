"""Earning and enrolling: the operations the EARN-BADGE and ISSUE-BADGE request workflows call.

In-process interface (the request workflow's ValidatePayload runs these with `dry_run=True`):

    svc = BadgesService(ctx)
    await svc.earn(caller, body, *, dry_run=False, identifier=None) -> dict        # POST customer/earn
    await svc.earn_bulk(caller, body, *, dry_run=False) -> dict                    # POST customer/earnBulk
    await svc.issue_bulk(caller, body, *, dry_run=False) -> dict                   # POST badgeMeta/customer/issueBulk

`caller` is a Principal or a bare org id; `body` is the documented JSON body; the result is the response's
`data`. Failures raise AppError with the documented code (809 carries the original result in `.data`; in a
dry run every failure carries the dry-run report in `.data`). A dry run runs every check — badge live and
active, claim, customer, enrolment, event date, each limit's current count — and writes nothing.

Concurrency: every write path locks the badge meta row first (FOR UPDATE on PostgreSQL; SQLite's single
writer serialises already), then checks the requestId and the limits, so two concurrent earns of one badge
see each other and a limit is never overrun. The (org, operation, requestId) primary key is the backstop:
a loser of a race on it re-reads the winner's result and answers 809.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from foureyes.audit.service import record
from foureyes.badges import checks, times
from foureyes.badges.checks import Trigger
from foureyes.badges.common import who
from foureyes.badges.models import BadgeEarn, BadgeIssue, BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import bad, customer_status, fail, not_found, reject_nul
from foureyes.badges.schemas import expiry_at
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.core.ids import object_id
from foureyes.identity.principal import Principal
from foureyes.webhooks.outbox import enqueue_event

MAX_BULK = 1000
T = TypeVar("T")


class BadgesService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def _idempotent(self, org: int, operation: str, rid: str | None, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except IntegrityError:
            if rid is None:
                raise
            async with self.ctx.db.read() as s:
                original = await BadgeRepository(s, org).remembered(operation, rid)
            if original is None:
                raise
            raise fail(809, "requestId", data=original) from None

    async def _meta(self, repo: BadgeRepository, body: dict[str, Any], *, lock: bool) -> BadgeMeta:
        if body.get("badgeMetaId") in (None, ""):
            raise bad("badgeMetaId is required", "badgeMetaId")
        meta = await repo.meta(body["badgeMetaId"], lock=lock)
        if meta is None:
            raise not_found(reference="badgeMetaId")
        return meta

    async def _seen(self, repo: BadgeRepository, operation: str, rid: str | None) -> None:
        if rid is not None:
            original = await repo.remembered(operation, rid)
            if original is not None:
                raise fail(809, "requestId", data=original)

    # -- earn ---------------------------------------------------------------------------------------------
    async def earn(
        self, caller: Principal | int, body: Any, *, dry_run: bool = False, identifier: str | None = None
    ) -> dict[str, Any]:
        """One customer earns the badge (POST customer/earn)."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        if body.get("customerId") in (None, ""):
            raise fail(812, "customerId")
        rid = checks.request_id(body, required=True)
        trig = checks.trigger(body)
        now = self.ctx.clock.now()
        at = checks.event_date(body, ("earnEventDate",), now)

        async def run() -> dict[str, Any]:
            unit = self.ctx.db.read() if dry_run else self.ctx.db.write()
            async with unit as s:
                repo = BadgeRepository(s, org)
                meta = await self._meta(repo, body, lock=not dry_run)
                await self._seen(repo, "earn", rid)
                report: dict[str, Any] = {"dryRun": True, "badgeMetaId": meta.id, "requestId": rid}
                try:
                    cid = await checks.customer(s, org, body["customerId"], identifier, "customerId")
                    report["customerId"] = cid
                    plan = await self._plan(repo, meta, cid, at, trig, now, report, (0, 0))
                except AppError as exc:
                    if dry_run:
                        exc.data = report | {"wouldEarn": False}
                    raise
                if dry_run:
                    return report | {"wouldEarn": True}
                result = await self._write_earn(s, repo, meta, cid, at, trig, now, plan, rid, actor)
                if rid is not None:
                    repo.remember("earn", rid, result, now)
                return result

        return await self._idempotent(org, "earn", rid, run)

    async def _plan(
        self,
        repo: BadgeRepository,
        meta: BadgeMeta,
        cid: int,
        at: datetime,
        trig: Trigger,
        now: datetime,
        report: dict[str, Any],
        pending: tuple[int, int],
    ) -> tuple[str | None, datetime]:
        """Every earn check, in the documented order; fills `report`; returns (issue id, expiry)."""
        report |= {"badgeStatus": checks.status_of(meta, now), "active": meta.active, "earnType": meta.earn_type}
        report |= times.pair("earnEventDate", at)
        report["limits"] = await checks.limit_report(repo, meta, cid, at, pending)
        report["triggeredBy"] = trig.wire()
        checks.live(meta, now)
        await checks.claimed(repo, meta, trig)
        issue_id = None
        if meta.earn_type == "ISSUE_EARN":
            issue = await repo.active_issue(meta.id, cid, now)
            if issue is None:
                raise fail(811, "customerId")
            issue_id = issue.id
            report["issuedId"] = issue_id
            if not issue.event_date <= at <= issue.expires_at:
                raise fail(816, "earnEventDate", "Earn event date is not within the badge issual.")
        elif not meta.start_on <= at < meta.expires_on:
            raise fail(816, "earnEventDate", "Earn event date is not in duration of badge meta.")
        checks.first_exhausted(report["limits"])
        expires = expiry_at(meta.doc.get("earnedBadgeExpiry"), at, meta.expires_on, now)
        report |= times.pair("expiresOn", expires)
        return issue_id, expires

    async def _write_earn(
        self,
        s: Any,
        repo: BadgeRepository,
        meta: BadgeMeta,
        cid: int,
        at: datetime,
        trig: Trigger,
        now: datetime,
        plan: tuple[str | None, datetime],
        rid: str | None,
        actor: str,
    ) -> dict[str, Any]:
        issue_id, expires = plan
        earn = BadgeEarn(
            id=object_id(), org_id=meta.org_id, badge_id=meta.id, customer_id=cid, issue_id=issue_id, earned_at=now,
            event_date=at, expires_at=expires, active=True, owner_type=trig.owner_type, owner_ref=trig.reference_id,
            request_id=rid,
        )  # fmt: skip
        repo.add(earn)
        await repo.flush()
        result = {"badgeMetaId": meta.id, "customerId": cid, "earnedBadgeId": earn.id}
        result |= times.pair("expiresOn", expires) | {"requestId": rid, "issuedId": issue_id}
        payload: dict[str, Any] = {
            "eventName": "badgeEarned",
            "orgId": meta.org_id,
            "createdAt": int(time.time() * 1000),
            "data": {
                "badgeMetaId": meta.id, "customerId": cid, "earnedBadgeId": earn.id, "expiresOn": times.epoch(expires),
                "expiresOnISO": times.iso(expires), "requestId": rid, "triggeredBy": trig.wire(),
            },
        }  # fmt: skip
        event = await enqueue_event(s, org_id=meta.org_id, event_name="badgeEarned", payload=payload)
        event.payload = {**payload, "eventId": event.event_id}
        await record(
            s, org_id=meta.org_id, actor=actor, action="badge.earned", subject_type="badge_earn", subject_id=earn.id,
            data={"badgeMetaId": meta.id, "customerId": cid, "requestId": rid},
        )  # fmt: skip
        return result

    async def earn_bulk(self, caller: Principal | int, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """Several customers earn the badge (POST customer/earnBulk); per-customer failures are per item."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        ids = id_list(body.get("customerIds"), "customerIds")
        rid = checks.request_id(body, required=False)
        trig = checks.trigger(body)
        now = self.ctx.clock.now()
        at = checks.event_date(body, ("earnEventDate", "issueEventDate"), now)

        async def run() -> dict[str, Any]:
            unit = self.ctx.db.read() if dry_run else self.ctx.db.write()
            async with unit as s:
                repo = BadgeRepository(s, org)
                meta = await self._meta(repo, body, lock=not dry_run)
                await self._seen(repo, "earnBulk", rid)
                checks.live(meta, now)
                await checks.claimed(repo, meta, trig)
                status = customer_status(checks.status_of(meta, now))
                items: list[dict[str, Any]] = []
                done: list[int] = []
                expires: datetime | None = None
                for raw in ids:
                    entry: dict[str, Any] = {"customerId": raw, "issuedId": None, "error": None, "status": status}
                    try:
                        cid = await checks.customer(s, org, raw, None, "customerIds")
                        entry["customerId"] = cid
                        report: dict[str, Any] = {}
                        pending = (done.count(cid), len(done)) if dry_run else (0, 0)
                        plan = await self._plan(repo, meta, cid, at, trig, now, report, pending)
                        expires = plan[1]
                        if dry_run:
                            entry |= {"limits": report["limits"], "wouldEarn": True}
                        else:
                            earned = await self._write_earn(s, repo, meta, cid, at, trig, now, plan, rid, actor)
                            entry["issuedId"] = entry["earnedBadgeId"] = earned["earnedBadgeId"]
                        done.append(cid)
                    except AppError as exc:
                        entry["error"] = exc.items[0].as_dict()
                        if dry_run:
                            entry["wouldEarn"] = False
                    items.append(entry)
                result: dict[str, Any] = {"badgeMetaId": meta.id, "triggeredBy": trig.wire()}
                result |= times.pair("expiresOn", expires) | {"issuedBadges": items, "requestId": rid}
                if dry_run:
                    result["dryRun"] = True
                elif rid is not None:
                    repo.remember("earnBulk", rid, result, now)
                return result

        return await self._idempotent(org, "earnBulk", rid, run)

    # -- enrol ----------------------------------------------------------------------------------------------
    async def issue_bulk(self, caller: Principal | int, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """Enrol customers for the badge (POST badgeMeta/customer/issueBulk)."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        raw_ids = body.get("customers")
        ids = id_list([raw_ids] if isinstance(raw_ids, int | str) else raw_ids, "customers")
        rid = checks.request_id(body, required=False)
        trig = checks.trigger(body)
        now = self.ctx.clock.now()
        at = checks.event_date(body, ("issueEventDate",), now)

        async def run() -> dict[str, Any]:
            unit = self.ctx.db.read() if dry_run else self.ctx.db.write()
            async with unit as s:
                repo = BadgeRepository(s, org)
                meta = await self._meta(repo, body, lock=not dry_run)
                await self._seen(repo, "issueBulk", rid)
                checks.live(meta, now)
                await checks.claimed(repo, meta, trig)
                if not meta.start_on <= at < meta.expires_on:
                    raise fail(816, "issueEventDate")
                expires = expiry_at(meta.doc.get("issuedBadgeExpiry"), at, meta.expires_on, now)
                items: list[dict[str, Any]] = []
                enrolled: set[int] = set()
                for raw in ids:
                    entry: dict[str, Any] = {"customerId": raw, "issuedId": None, "error": None}
                    try:
                        cid = await checks.customer(s, org, raw, None, "customers")
                        entry["customerId"] = cid
                        existing = await repo.active_issue(meta.id, cid, now)
                        if existing is not None or cid in enrolled:
                            entry["issuedId"] = existing.id if existing else None
                            raise fail(1040, "customers")
                        enrolled.add(cid)
                        if not dry_run:
                            issue = BadgeIssue(
                                id=object_id(), org_id=org, badge_id=meta.id, customer_id=cid, issued_at=now,
                                event_date=at, expires_at=expires, status="ACTIVE", owner_type=trig.owner_type,
                                owner_ref=trig.reference_id, request_id=rid,
                            )  # fmt: skip
                            repo.add(issue)
                            entry["issuedId"] = issue.id
                            await record(
                                s, org_id=org, actor=actor, action="badge.issued", subject_type="badge_issue",
                                subject_id=issue.id, data={"badgeMetaId": meta.id, "customerId": cid},
                            )  # fmt: skip
                    except AppError as exc:
                        entry["error"] = exc.items[0].as_dict()
                    items.append(entry)
                result: dict[str, Any] = {"badgeMetaId": meta.id, "triggeredBy": trig.wire()}
                result |= times.pair("expiresOn", expires) | {"issuedBadges": items, "requestId": rid}
                if dry_run:
                    result |= {"dryRun": True, "badgeStatus": checks.status_of(meta, now), "active": meta.active}
                elif rid is not None:
                    repo.remember("issueBulk", rid, result, now)
                return result

        return await self._idempotent(org, "issueBulk", rid, run)


def id_list(raw: Any, reference: str, *, limit: int = MAX_BULK) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise fail(812, reference, f"{reference} must be a non-empty array")
    if len(raw) > limit:
        raise bad(f"At most {limit} entries in {reference}", reference)
    return raw
