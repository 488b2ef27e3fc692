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

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.service import record
from foureyes.badges import checks, times
from foureyes.badges.checks import Trigger
from foureyes.badges.common import who
from foureyes.badges.earn_queries import CountKey, Facts
from foureyes.badges.models import BadgeIssue, BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import bad, customer_status, fail, not_found, reject_nul
from foureyes.badges.schemas import expiry_at
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.core.ids import object_id
from foureyes.identity.principal import Principal
from foureyes.webhooks.outbox import enqueue_event, new_event_id

MAX_BULK = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """What every earn/enrol call reads from its body before touching the database."""

    operation: str  # the idempotency scope: earn | earnBulk | issueBulk
    org: int
    actor: str
    body: dict[str, Any]
    rid: str | None
    trig: Trigger
    now: datetime
    at: datetime


@dataclass
class Opened:
    """An open unit of work with the badge read (locked unless a dry run) and its first checks done."""

    s: AsyncSession
    repo: BadgeRepository
    meta: BadgeMeta
    facts: Facts


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

    def _call(
        self,
        operation: str,
        caller: Principal | int,
        body: Any,
        *,
        rid_required: bool,
        dates: tuple[str, ...],
        first: Callable[[dict[str, Any]], T],
    ) -> tuple[Call, T]:
        """The shared opening of the body checks; `first` runs the operation's own ones (in their documented
        place: after the body's shape, before requestId and triggeredBy)."""
        org, actor = who(caller)
        if not isinstance(body, dict):
            raise bad("The body must be a JSON object")
        reject_nul(body)
        own = first(body)
        rid = checks.request_id(body, required=rid_required)
        trig = checks.trigger(body)
        now = self.ctx.clock.now()
        at = checks.event_date(body, dates, now)
        return Call(operation, org, actor, body, rid, trig, now, at), own

    async def _idempotent(self, call: Call, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except IntegrityError:
            if call.rid is None:
                raise
            async with self.ctx.db.read() as s:
                original = await BadgeRepository(s, call.org).remembered(call.operation, call.rid)
            if original is None:
                raise
            raise fail(809, "requestId", data=original) from None

    async def _open(
        self,
        s: AsyncSession,
        call: Call,
        *,
        dry_run: bool,
        customer_id: int | None = None,
        counts: Callable[[BadgeMeta], list[CountKey]] | None = None,
    ) -> Opened:
        """Read the badge (404), locking it for a write, then in one more statement the requestId (809), the
        trigger's claim and, for a single earn, the customer and the limit counts (checked by the caller).

        The lock comes first and the rest after it, so two concurrent writes of one badge see each other's
        earns and requestIds (BadgeRepository.facts says why it must be a second statement)."""
        repo = BadgeRepository(s, call.org)
        badge_id = call.body.get("badgeMetaId")
        if badge_id in (None, ""):
            raise bad("badgeMetaId is required", "badgeMetaId")
        meta = await repo.meta(badge_id, lock=not dry_run)
        if meta is None:
            raise not_found(reference="badgeMetaId")
        facts = await repo.facts(
            meta.id,
            operation=call.operation,
            request_id=call.rid,
            claim=(call.trig.owner_type, call.trig.reference_id),
            customer_id=customer_id,
            counts=counts(meta) if counts is not None else (),
        )
        if facts.original is not None:
            raise fail(809, "requestId", data=facts.original)
        return Opened(s, repo, meta, facts)

    # -- earn ---------------------------------------------------------------------------------------------
    async def earn(
        self, caller: Principal | int, body: Any, *, dry_run: bool = False, identifier: str | None = None
    ) -> dict[str, Any]:
        """One customer earns the badge (POST customer/earn)."""

        def customer_given(b: dict[str, Any]) -> None:
            if b.get("customerId") in (None, ""):
                raise fail(812, "customerId")

        call, _ = self._call("earn", caller, body, rid_required=True, dates=("earnEventDate",), first=customer_given)
        raw_customer = call.body["customerId"]
        try:  # a malformed id is reported after 404 and 809, as before; a good one is checked with them
            cid_ref, ref_error = checks.customer_ref(raw_customer, identifier, "customerId"), None
        except AppError as exc:
            cid_ref, ref_error = None, exc

        def counts(meta: BadgeMeta) -> list[CountKey]:
            return [] if cid_ref is None else checks.count_keys(meta, cid_ref, call.at)

        async def run() -> dict[str, Any]:
            async with self._unit(dry_run) as s:
                o = await self._open(s, call, dry_run=dry_run, customer_id=cid_ref, counts=counts)
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
                result = await self._write_earn(o, call, cid, plan)
                assert call.rid is not None  # required on a single earn
                await o.repo.remember("earn", call.rid, result, call.now)
                return result

        result = await self._idempotent(call, run)
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

    async def _write_earn(self, o: Opened, call: Call, cid: int, plan: tuple[str | None, datetime]) -> dict[str, Any]:
        """The earn row, its `badgeEarned` event and its audit event: three inserts, no ORM objects."""
        issue_id, expires = plan
        meta, trig, rid = o.meta, call.trig, call.rid
        earn_id = object_id()
        await o.repo.insert_earn(
            {
                "id": earn_id, "badge_id": meta.id, "customer_id": cid, "issue_id": issue_id, "earned_at": call.now,
                "event_date": call.at, "expires_at": expires, "active": True, "owner_type": trig.owner_type,
                "owner_ref": trig.reference_id, "request_id": rid,
            }
        )  # fmt: skip
        result = {"badgeMetaId": meta.id, "customerId": cid, "earnedBadgeId": earn_id}
        result |= times.pair("expiresOn", expires) | {"requestId": rid, "issuedId": issue_id}
        event_id = new_event_id()  # the payload quotes it, so it is chosen before the one INSERT
        payload: dict[str, Any] = {
            "eventName": "badgeEarned",
            "orgId": meta.org_id,
            "createdAt": int(time.time() * 1000),
            "data": {
                "badgeMetaId": meta.id, "customerId": cid, "earnedBadgeId": earn_id, "expiresOn": times.epoch(expires),
                "expiresOnISO": times.iso(expires), "requestId": rid, "triggeredBy": trig.wire(),
            },
            "eventId": event_id,
        }  # fmt: skip
        await enqueue_event(o.s, org_id=meta.org_id, event_name="badgeEarned", payload=payload, event_id=event_id)
        await record(
            o.s, org_id=meta.org_id, actor=call.actor, action="badge.earned", subject_type="badge_earn",
            subject_id=earn_id, data={"badgeMetaId": meta.id, "customerId": cid, "requestId": rid},
        )  # fmt: skip
        return result

    async def earn_bulk(self, caller: Principal | int, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """Several customers earn the badge (POST customer/earnBulk); per-customer failures are per item."""
        call, ids = self._call(
            "earnBulk", caller, body, rid_required=False, dates=("earnEventDate", "issueEventDate"),
            first=lambda b: id_list(b.get("customerIds"), "customerIds"),
        )  # fmt: skip
        done: list[int] = []

        async def run() -> dict[str, Any]:
            done.clear()
            async with self._unit(dry_run) as s:
                o = await self._open(s, call, dry_run=dry_run)
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
                            earned = await self._write_earn(o, call, cid, plan)
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

        result = await self._idempotent(call, run)
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

        call, ids = self._call(
            "issueBulk", caller, body, rid_required=False, dates=("issueEventDate",), first=customers
        )  # fmt: skip

        async def run() -> dict[str, Any]:
            async with self._unit(dry_run) as s:
                o = await self._open(s, call, dry_run=dry_run)
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

        return await self._idempotent(call, run)


def id_list(raw: Any, reference: str, *, limit: int = MAX_BULK) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise fail(812, reference, f"{reference} must be a non-empty array")
    if len(raw) > limit:
        raise bad(f"At most {limit} entries in {reference}", reference)
    return raw
