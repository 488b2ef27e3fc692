"""Enqueue events into the outbox inside the caller's transaction.

An event is one INSERT (its id and payload are known before it is written) plus, when it has targets, one
INSERT of its deliveries. The org's subscriptions are read at enqueue time, so a delivery keeps the target
that was subscribed when the event happened (replacing subscriptions later does not retarget it); they are
read once per transaction and remembered in `session.info`, so a bulk call that emits many events reads
them once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.clock import utcnow
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery, WebhookSubscription

# The tables themselves: their inserts are single statements with no ORM objects or unit of work.
EVENTS = core_table(OutboxEvent)
_SUBSCRIBED = core_table(WebhookSubscription)
DELIVERIES = core_table(WebhookDelivery)
_SUBSCRIPTIONS = "foureyes.webhooks.subscriptions"

# Built once and reused with bind parameters: building them per event cost more Python than running them (a
# reused statement's compiled form is found by its memoised cache key).
# RETURNING named here, not left to SQLAlchemy (`inserted_primary_key`): the event's id comes back in the same
# round trip on both stores and the statement can run directly on the driver (core/direct.py).
INSERT_EVENT: Insert = insert(EVENTS).returning(EVENTS.c.id)
INSERT_DELIVERIES: Insert = insert(DELIVERIES)
_ACTIVE_SUBSCRIPTIONS = (
    select(_SUBSCRIBED.c.url, _SUBSCRIBED.c.secret_sealed, _SUBSCRIBED.c.events)
    .where(_SUBSCRIBED.c.org_id == bindparam("org"), _SUBSCRIBED.c.active == 1)
    .order_by(_SUBSCRIBED.c.id)
)

Subscription = tuple[str, str | None, list[str]]  # url, sealed secret, events


def new_event_id() -> str:
    """The public id of an event (`eventId` in its body); callers that put it in the payload make it first."""
    return str(uuid.uuid4())


async def subscriptions(session: AsyncSession, org_id: int) -> list[Subscription]:
    """The org's active subscriptions, read once per transaction (one session is one transaction)."""
    cache: dict[int, list[Subscription]] = session.info.setdefault(_SUBSCRIPTIONS, {})
    found = cache.get(org_id)
    if found is None:
        rows = (await execute(session, _ACTIVE_SUBSCRIPTIONS, {"org": org_id})).all()
        found = cache[org_id] = [(url, sealed, list(events or [])) for url, sealed, events in rows]
    return found


def forget_subscriptions(session: AsyncSession, org_id: int) -> None:
    """Drop the transaction's remembered subscriptions of the org (they were just replaced)."""
    session.info.get(_SUBSCRIPTIONS, {}).pop(org_id, None)


async def enqueue_event(
    session: AsyncSession,
    *,
    org_id: int,
    event_name: str,
    payload: dict[str, Any],
    targets: Sequence[tuple[str, str | None]] | None = None,
    event_id: str | None = None,
) -> str:
    """Record `event_name` and one delivery per target (url, sealed secret); returns the event's id.

    With `targets=None` the org's subscriptions to `event_name` are used. The event row is kept even with
    no target, so the trail of what happened is complete. `event_id` lets a caller that quotes the id in
    the payload choose it first (see new_event_id).
    """
    if targets is None:
        targets = [
            (url, sealed) for url, sealed, events in await subscriptions(session, org_id) if event_name in events
        ]
    now = utcnow()
    public_id = event_id or new_event_id()
    values = {"org_id": org_id, "event_name": event_name, "event_id": public_id, "payload": payload, "created_at": now}
    # On the transaction's connection (core/execute.py): a bulk call's events flush nothing pending in the session.
    key = (await execute(session, INSERT_EVENT, values)).scalar_one()
    if targets:
        common = {"org_id": org_id, "event_id": key, "status": "pending", "attempts": 0, "next_attempt_at": now}
        rows = [{**common, "url": url, "secret_sealed": sealed} for url, sealed in targets]
        await execute(session, INSERT_DELIVERIES, rows)
    return public_id
