"""The steps the earn, enrol and revoke calls share: the body's common checks, the badge read (and locked), the
requestId backstop, and an earn's three writes (earn row, `badgeEarned` event, audit event)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
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
from foureyes.badges.models import BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import bad, fail, not_found, reject_nul
from foureyes.core.context import AppContext
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


def read_call(
    ctx: AppContext,
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
    now = ctx.clock.now()
    at = checks.event_date(body, dates, now)
    return Call(operation, org, actor, body, rid, trig, now, at), own


async def idempotent(ctx: AppContext, call: Call, fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn`; a loser of the race on the requestId's primary key answers 809 with the winner's result."""
    try:
        return await fn()
    except IntegrityError:
        if call.rid is None:
            raise
        async with ctx.db.read() as s:
            original = await BadgeRepository(s, call.org).remembered(call.operation, call.rid)
        if original is None:
            raise
        raise fail(809, "requestId", data=original) from None


async def badge_of(repo: BadgeRepository, body: dict[str, Any], *, lock: bool) -> BadgeMeta:
    """The body's badgeMetaId (required) as the org's badge (404 otherwise), row-locked if `lock`."""
    badge_id = body.get("badgeMetaId")
    if badge_id in (None, ""):
        raise bad("badgeMetaId is required", "badgeMetaId")
    meta = await repo.meta(badge_id, lock=lock)
    if meta is None:
        raise not_found(reference="badgeMetaId")
    return meta


async def open_badge(
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
    meta = await badge_of(repo, call.body, lock=not dry_run)
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


async def write_earn(o: Opened, call: Call, cid: int, plan: tuple[str | None, datetime]) -> dict[str, Any]:
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


def id_list(raw: Any, reference: str, *, limit: int = MAX_BULK) -> list[Any]:
    """A non-empty array of at most `limit` ids (812 when missing or empty, 400 when too long)."""
    if not isinstance(raw, list) or not raw:
        raise fail(812, reference, f"{reference} must be a non-empty array")
    if len(raw) > limit:
        raise bad(f"At most {limit} entries in {reference}", reference)
    return raw
