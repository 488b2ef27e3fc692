"""Enqueue events into the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.clock import utcnow
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery, WebhookSubscription


async def enqueue_event(
    session: AsyncSession,
    *,
    org_id: int,
    event_name: str,
    payload: dict[str, Any],
    targets: Sequence[tuple[str, str | None]] | None = None,
) -> OutboxEvent:
    """Record `event_name` and one delivery per target (url, sealed secret).

    With `targets=None` the org's subscriptions to `event_name` are used. The event row is kept even with
    no target, so the trail of what happened is complete.
    """
    now = utcnow()
    event = OutboxEvent(
        org_id=org_id, event_name=event_name, event_id=str(uuid.uuid4()), payload=payload, created_at=now
    )
    session.add(event)
    await session.flush()
    if targets is None:
        subs = await session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.org_id == org_id, WebhookSubscription.active == 1)
        )
        targets = [(s.url, s.secret_sealed) for s in subs if event_name in (s.events or [])]
    for url, sealed in targets:
        session.add(
            WebhookDelivery(
                org_id=org_id,
                event_id=event.id,
                url=url,
                secret_sealed=sealed,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )
    return event
