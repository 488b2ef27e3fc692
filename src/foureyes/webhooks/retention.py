"""Outbox retention: events whose deliveries are finished are deleted after `outbox_retention_days`.

Every webhook event is a row in `outbox_events` (with one `webhook_deliveries` row per endpoint), so without
pruning the two tables grow with every request and badge for ever. Once every delivery of an event is
`delivered` or `failed` (or it had none) and the event is older than the retention, nothing reads it but the
deliveries view, which is for recent trouble. Pending deliveries are never pruned, however old. The audit chain
is the permanent record and is never pruned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.context import AppContext
from foureyes.core.logging import get_logger
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery

log = get_logger("foureyes.webhooks.retention")
BATCH = 1000
PASS_EVERY_SECONDS = 3600.0


class RetentionRepository:
    """The queries of the prune (all orgs: retention is an operator setting, not a tenant's)."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def prunable(self, cutoff: datetime, limit: int) -> Sequence[int]:
        """Oldest first: ids grow with time, so the walk stops at the first batch of old, settled events."""
        pending = exists().where(WebhookDelivery.event_id == OutboxEvent.id, WebhookDelivery.status == "pending")
        stmt = select(OutboxEvent.id).where(OutboxEvent.created_at < cutoff, ~pending).order_by(OutboxEvent.id)
        return (await self.s.scalars(stmt.limit(limit))).all()

    async def delete(self, event_ids: Sequence[int]) -> None:
        await self.s.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids)))
        await self.s.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(event_ids)))


async def prune_outbox(ctx: AppContext, batch: int = BATCH) -> int:
    """Delete settled events older than the retention, a batch per transaction; how many were deleted."""
    days = ctx.settings.outbox_retention_days
    if days <= 0:
        return 0
    cutoff = ctx.clock.now() - timedelta(days=days)
    deleted = 0
    while True:
        # Short transactions: a big first prune must not hold SQLite's single writer lock for long.
        async with ctx.db.write() as session:
            repo = RetentionRepository(session)
            ids = await repo.prunable(cutoff, batch)
            if ids:
                await repo.delete(ids)
        deleted += len(ids)
        if len(ids) < batch:
            break
        await asyncio.sleep(0)
    if deleted:
        log.info("outbox pruned", events=deleted, older_than_days=days)
    return deleted


async def retention_loop(ctx: AppContext, stop: asyncio.Event) -> None:
    """Prune once an hour until `stop` is set."""
    while not stop.is_set():
        try:
            await prune_outbox(ctx)
        except Exception:  # a failed pass (database blip) is retried next hour; it must not end the loop
            log.exception("outbox prune failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=PASS_EVERY_SECONDS)
        except TimeoutError:
            pass
