"""Earning and enrolling: the operations the EARN-BADGE and ISSUE-BADGE request workflows call.

In-process interface (the request workflow's ValidatePayload runs these with `dry_run=True`):

    svc = BadgesService(ctx)   # or BadgesService(ctx, dry_run_session=s): dry runs read in the caller's session
    await svc.earn(caller, body, *, dry_run=False, identifier=None) -> dict        # POST customer/earn
    await svc.earn_bulk(caller, body, *, dry_run=False) -> dict                    # POST customer/earnBulk
    await svc.issue_bulk(caller, body, *, dry_run=False) -> dict                   # POST badgeMeta/customer/issueBulk

`caller` is a Principal or a bare org id; `body` is the documented JSON body; the result is the response's
`data`. Failures raise AppError with the documented code (809 carries the original result in `.data`; in a
dry run every failure carries the dry-run report in `.data`). A dry run runs every check — badge live and
active, claim, customer, enrolment, event date, each limit's current count — and writes nothing.

Concurrency: every write path locks the badge meta row first (FOR UPDATE on PostgreSQL; SQLite's single
writer serialises already), then checks the requestId, the claim, the customer and the limits in one more
statement (BadgeRepository.facts), so two concurrent earns of one badge see each other and a limit is never
overrun. The (org, operation, requestId) primary key is the backstop:
a loser of a race on it re-reads the winner's result and answers 809.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.service import record
from foureyes.badges import checks, times
from foureyes.badges.earn_queries import CountKey
from foureyes.badges.earn_steps import Call, Opened, id_list, idempotent, open_badge, read_call, write_earn
from foureyes.badges.models import BadgeIssue, BadgeMeta
from foureyes.badges.rules import customer_status, fail
from foureyes.badges.schemas import expiry_at
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.core.ids import object_id
from foureyes.identity.principal import Principal


class BadgesService:
    def __init__(self, ctx: AppContext, dry_run_session: AsyncSession | None = None) -> None:
        self.ctx = ctx
        # A caller already inside a read transaction (the request workflow's ValidatePayload) may lend it to
        # dry runs: one transaction less per create. Writes always open their own.
        self._dry_run_session = dry_run_session

    def _unit(self, dry_run: bool) -> AbstractAsyncContextManager[AsyncSession]:
        """The unit of work of one call: the lent session for a dry run, else a new read or write transaction."""
        if dry_run and self._dry_run_session is not None:
            return nullcontext(self._dry_run_session)
        return self.ctx.db.read() if dry_run else self.ctx.db.write()

    # -- earn ---------------------------------------------------------------------------------------------
    async def earn(
        self, caller: Principal | int, body: Any, *, dry_run: bool = False, identifier: str | None = None
    ) -> dict[str, Any]:
        """One customer earns the badge (POST customer/earn)."""

        def customer_given(b: dict[str, Any]) -> None:
            if b.get("customerId") in (None, ""):
                raise fail(812, "customerId")

        call, _ = read_call(
            self.ctx, "earn", caller, body, rid_required=True, dates=("earnEventDate",), first=customer_given
        )
        raw_customer = call.body["customerId"]
        try:  # a malformed id is reported after 404 and 809, as before; a good one is checked with them
            cid_ref, ref_error = checks.customer_ref(raw_customer, identifier, "customerId"), None
        except AppError as exc:
            cid_ref, ref_error = None, exc

        def counts(meta: BadgeMeta) -> list[CountKey]:
            return [] if cid_ref is None else checks.count_keys(meta, cid_ref, call.at)

        async def run() -> dict[str, Any]:
            async with self._unit(dry_run) as s:
                o = await open_badge(s, call, dry_run=dry_run, customer_id=cid_ref, counts=counts)
                report: dict[str, Any] = {"dryRun": True, "badgeMetaId": o.meta.id, "requestId": call.rid}
                try:
                    if ref_error is not None:
                        raise ref_error
                    known = o.facts.customer_known
                    cid = await checks.customer(s, call.org, raw_customer, identifier, "customerId", known=known)
                    report["customerId"] = cid
                    plan = await self._plan(o, call, cid, report, (0, 0), o.facts.counts)
                except AppError as exc:
                    if dry_run:
                        exc.data = report | {"wouldEarn": False}
                    raise
                if dry_run:
                    return report | {"wouldEarn": True}
                result = await write_earn(o, call, cid, plan)
                assert call.rid is not None  # required on a single earn
                await o.repo.remember("earn", call.rid, result, call.now)
                return result

        result = await idempotent(self.ctx, call, run)
        if not dry_run:
            self.ctx.metrics.badge_earns.inc()
        return result

    async def _plan(
        self,
        o: Opened,
        call: Call,
        cid: int,
        report: dict[str, Any],
        pending: tuple[int, int],
        counts: dict[CountKey, int],
    ) -> tuple[str | None, datetime]:
        """Every earn check, in the documented order; fills `report`; returns (issue id, expiry)."""
        meta, at, now = o.meta, call.at, call.now
        report |= {"badgeStatus": checks.status_of(meta, now), "active": meta.active, "earnType": meta.earn_type}
        report |= times.pair("earnEventDate", at)
        report["limits"] = await checks.limit_report(o.repo, meta, cid, at, pending, counts)
        report["triggeredBy"] = call.trig.wire()
        checks.live(meta, now)
        checks.claimed(o.facts.claimed)
        issue_id = None
        if meta.earn_type == "ISSUE_EARN":
            issue = await o.repo.active_issue(meta.id, cid, now)
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

    async def earn_bulk(self, caller: Principal | int, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """Several customers earn the badge (POST customer/earnBulk); per-customer failures are per item."""
        call, ids = read_call(
            self.ctx, "earnBulk", caller, body, rid_required=False, dates=("earnEventDate", "issueEventDate"),
            first=lambda b: id_list(b.get("customerIds"), "customerIds"),
        )  # fmt: skip
        done: list[int] = []

        async def run() -> dict[str, Any]:
            done.clear()
            async with self._unit(dry_run) as s:
                o = await open_badge(s, call, dry_run=dry_run)
                checks.live(o.meta, call.now)
                checks.claimed(o.facts.claimed)
                status = customer_status(checks.status_of(o.meta, call.now))
                items: list[dict[str, Any]] = []
                expires: datetime | None = None
                for raw in ids:
                    entry: dict[str, Any] = {"customerId": raw, "issuedId": None, "error": None, "status": status}
                    try:
                        cid, counts = await self._bulk_customer(o, call, raw)
                        entry["customerId"] = cid
                        report: dict[str, Any] = {}
                        pending = (done.count(cid), len(done)) if dry_run else (0, 0)
                        plan = await self._plan(o, call, cid, report, pending, counts)
                        expires = plan[1]
                        if dry_run:
                            entry |= {"limits": report["limits"], "wouldEarn": True}
                        else:
                            earned = await write_earn(o, call, cid, plan)
                            entry["issuedId"] = entry["earnedBadgeId"] = earned["earnedBadgeId"]
                        done.append(cid)
                    except AppError as exc:
                        entry["error"] = exc.items[0].as_dict()
                        if dry_run:
                            entry["wouldEarn"] = False
                    items.append(entry)
                result: dict[str, Any] = {"badgeMetaId": o.meta.id, "triggeredBy": call.trig.wire()}
                result |= times.pair("expiresOn", expires) | {"issuedBadges": items, "requestId": call.rid}
                if dry_run:
                    result["dryRun"] = True
                elif call.rid is not None:
                    await o.repo.remember("earnBulk", call.rid, result, call.now)
                return result

        result = await idempotent(self.ctx, call, run)
        if not dry_run and done:
            self.ctx.metrics.badge_earns.inc(len(done))
        return result

    async def _bulk_customer(self, o: Opened, call: Call, raw: Any) -> tuple[int, dict[CountKey, int]]:
        """One bulk item's customer and its limit counts, read in one statement (a fresh one per item: it must
        see the earns written for the items before it)."""
        cid = checks.customer_ref(raw, None, "customerIds")
        assert cid is not None  # no identifier header on bulk calls
        item = await o.repo.facts(o.meta.id, customer_id=cid, counts=checks.count_keys(o.meta, cid, call.at))
        await checks.customer(o.s, call.org, raw, None, "customerIds", known=item.customer_known)
        return cid, item.counts

    # -- enrol ----------------------------------------------------------------------------------------------
    async def issue_bulk(self, caller: Principal | int, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """Enrol customers for the badge (POST badgeMeta/customer/issueBulk)."""

        def customers(b: dict[str, Any]) -> list[Any]:
            raw_ids = b.get("customers")
            return id_list([raw_ids] if isinstance(raw_ids, int | str) else raw_ids, "customers")

        call, ids = read_call(
            self.ctx, "issueBulk", caller, body, rid_required=False, dates=("issueEventDate",), first=customers
        )  # fmt: skip

        async def run() -> dict[str, Any]:
            async with self._unit(dry_run) as s:
                o = await open_badge(s, call, dry_run=dry_run)
                meta, repo, org, now, at, trig = o.meta, o.repo, call.org, call.now, call.at, call.trig
                checks.live(meta, now)
                checks.claimed(o.facts.claimed)
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
                                owner_ref=trig.reference_id, request_id=call.rid,
                            )  # fmt: skip
                            repo.add(issue)
                            entry["issuedId"] = issue.id
                            await record(
                                s, org_id=org, actor=call.actor, action="badge.issued", subject_type="badge_issue",
                                subject_id=issue.id, data={"badgeMetaId": meta.id, "customerId": cid},
                            )  # fmt: skip
                    except AppError as exc:
                        entry["error"] = exc.items[0].as_dict()
                    items.append(entry)
                result: dict[str, Any] = {"badgeMetaId": meta.id, "triggeredBy": trig.wire()}
                result |= times.pair("expiresOn", expires) | {"issuedBadges": items, "requestId": call.rid}
                if dry_run:
                    result |= {"dryRun": True, "badgeStatus": checks.status_of(meta, now), "active": meta.active}
                elif call.rid is not None:
                    await repo.remember("issueBulk", call.rid, result, now)
                return result

        return await idempotent(self.ctx, call, run)
