"""Outbox retention: settled events past `outbox_retention_days` go; pending and recent ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from foureyes.core.clock import FrozenClock
from foureyes.core.context import AppContext
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery
from foureyes.webhooks.outbox import enqueue_event
from foureyes.webhooks.retention import prune_outbox

URL = "http://127.0.0.1:9/hook"


async def _event(ctx: AppContext, n: int, *, status: str | None, age_days: float) -> None:
    """One event `age_days` old with one delivery in `status` (None: no delivery at all)."""
    async with ctx.db.write() as s:
        targets = [(URL, None)] if status else []
        public_id = await enqueue_event(s, org_id=100, event_name="badgeEarned", payload={"n": n}, targets=targets)
        when = ctx.clock.now() - timedelta(days=age_days)
        await s.execute(update(OutboxEvent).where(OutboxEvent.event_id == public_id).values(created_at=when))
        if status:
            event_id = select(OutboxEvent.id).where(OutboxEvent.event_id == public_id).scalar_subquery()
            await s.execute(update(WebhookDelivery).where(WebhookDelivery.event_id == event_id).values(status=status))


async def _left(ctx: AppContext) -> tuple[list[int], int]:
    async with ctx.db.read() as s:
        events = [e.payload["n"] for e in await s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
        deliveries = len(list(await s.scalars(select(WebhookDelivery))))
    return events, deliveries


async def test_only_old_settled_events_are_pruned(ctx: AppContext, clock: FrozenClock) -> None:
    ctx.settings.outbox_retention_days = 30
    await _event(ctx, 1, status="delivered", age_days=31)
    await _event(ctx, 2, status="failed", age_days=40)
    await _event(ctx, 3, status=None, age_days=31)
    await _event(ctx, 4, status="pending", age_days=90)  # still being retried: kept however old
    await _event(ctx, 5, status="delivered", age_days=29)  # within the retention
    assert await prune_outbox(ctx) == 3
    assert await _left(ctx) == ([4, 5], 2)
    assert await prune_outbox(ctx) == 0


async def test_pruning_works_in_batches_and_zero_keeps_everything(ctx: AppContext, clock: FrozenClock) -> None:
    for n in range(7):
        await _event(ctx, n, status="delivered", age_days=60)
    ctx.settings.outbox_retention_days = 0
    assert await prune_outbox(ctx, batch=3) == 0
    assert len((await _left(ctx))[0]) == 7
    ctx.settings.outbox_retention_days = 30
    assert await prune_outbox(ctx, batch=3) == 7
    assert await _left(ctx) == ([], 0)
