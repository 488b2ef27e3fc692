"""Every webhook query: subscriptions and delivery listings scoped to one org; the worker's claim."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.dialect import claim_rows
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery, WebhookSubscription
from foureyes.webhooks.outbox import forget_subscriptions


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def subscriptions(self, org_id: int) -> list[WebhookSubscription]:
        rows = await self.s.scalars(
            select(WebhookSubscription).where(WebhookSubscription.org_id == org_id).order_by(WebhookSubscription.id)
        )
        return list(rows)

    async def replace_subscriptions(self, org_id: int, rows: Sequence[WebhookSubscription]) -> None:
        """The org's list becomes exactly `rows` (deliveries already enqueued keep their own target)."""
        await self.s.execute(delete(WebhookSubscription).where(WebhookSubscription.org_id == org_id))
        forget_subscriptions(self.s, org_id)
        self.s.add_all(rows)
        await self.s.flush()

    async def recent_deliveries(
        self, org_id: int, status: str | None, limit: int
    ) -> list[tuple[WebhookDelivery, OutboxEvent]]:
        stmt = (
            select(WebhookDelivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.org_id == org_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        return [(row[0], row[1]) for row in await self.s.execute(stmt)]

    # --- the worker (all orgs: it serves every tenant) ---

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[WebhookDelivery]:
        """Lease up to `limit` pending deliveries that are due and not leased (or whose lease expired)."""
        due = (
            (WebhookDelivery.status == "pending")
            & (WebhookDelivery.next_attempt_at <= now)
            & or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now)
        )
        return await claim_rows(
            self.s,
            WebhookDelivery,
            due=due,
            order_by=[WebhookDelivery.next_attempt_at, WebhookDelivery.id],
            limit=limit,
            values={"lease_until": lease_until, "attempts": WebhookDelivery.attempts + 1},
        )

    async def events(self, ids: set[int]) -> dict[int, OutboxEvent]:
        if not ids:
            return {}
        rows = await self.s.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        return {row.id: row for row in rows}

    async def settle(self, delivery_id: int, lease_until: datetime, values: dict[str, Any]) -> bool:
        """Record an attempt's outcome, only while our lease still holds (a re-claim by another worker wins)."""
        result = await self.s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_until == lease_until)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
