"""Org-level webhook subscriptions (sealed secrets, audited) and the operators' view of deliveries."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from foureyes.audit import service as audit
from foureyes.core.context import AppContext
from foureyes.core.errors import ErrorItem, Forbidden, many
from foureyes.identity.principal import Principal
from foureyes.webhooks.models import WebhookSubscription
from foureyes.webhooks.repository import WebhookRepository
from foureyes.webhooks.schemas import (
    DELIVERY_STATUSES,
    MASK,
    SubscriptionsIn,
    delivery_view,
    subscription_view,
)

PERMISSION = "CanConfigureWorkflows"
PAYLOAD_CODE = 2008
MAX_LIST = 200


class WebhookService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def subscriptions(self, principal: Principal) -> dict[str, Any]:
        """The org's subscriptions, secrets masked."""
        _require(principal)
        async with self.ctx.db.read() as session:
            rows = await WebhookRepository(session).subscriptions(principal.org_id)
            return {"subscriptions": [subscription_view(r) for r in rows]}

    async def replace_subscriptions(self, principal: Principal, raw: Any) -> dict[str, Any]:
        """Validate the body, seal new secrets, replace the org's list and audit the change."""
        _require(principal)
        body = parse_subscriptions(raw)
        org = principal.org_id
        async with self.ctx.db.write() as session:
            repo = WebhookRepository(session)
            kept = {r.url: r.secret_sealed for r in await repo.subscriptions(org)}
            rows = []
            for i, sub in enumerate(body.subscriptions):
                if sub.secret == MASK:
                    sealed = kept.get(sub.url)
                    if sealed is None:
                        raise many(400, [ErrorItem(PAYLOAD_CODE, "A new URL needs its secret", _ref(i, "secret"))])
                else:
                    sealed = self.ctx.secret_box.seal(sub.secret)
                rows.append(WebhookSubscription(org_id=org, url=sub.url, secret_sealed=sealed, events=sub.events))
            await repo.replace_subscriptions(org, rows)
            await audit.record(
                session,
                org_id=org,
                actor=principal.actor,
                action="webhooks.subscriptions_replaced",
                subject_type="webhooks",
                subject_id=str(org),
                data={"subscriptions": [{"url": s.url, "events": s.events} for s in body.subscriptions]},
                at=self.ctx.clock.now(),
            )
            return {"subscriptions": [subscription_view(r) for r in rows]}

    async def deliveries(self, principal: Principal, status: str | None, limit: int) -> list[dict[str, Any]]:
        """The org's most recent deliveries, newest first, optionally of one status."""
        _require(principal)
        wanted = (status or "").strip().lower() or None
        if wanted is not None and wanted not in DELIVERY_STATUSES:
            raise many(
                400, [ErrorItem(PAYLOAD_CODE, f"status must be one of {', '.join(DELIVERY_STATUSES)}", "status")]
            )
        if not 1 <= limit <= MAX_LIST:
            raise many(400, [ErrorItem(PAYLOAD_CODE, f"limit must be 1 to {MAX_LIST}", "limit")])
        async with self.ctx.db.read() as session:
            rows = await WebhookRepository(session).recent_deliveries(principal.org_id, wanted, limit)
            return [delivery_view(d, e) for d, e in rows]


def parse_subscriptions(raw: Any) -> SubscriptionsIn:
    """Every problem in the body, reported at once as 400 2008 with the field path."""
    try:
        return SubscriptionsIn.model_validate(raw)
    except ValidationError as exc:
        items = [
            ErrorItem(PAYLOAD_CODE, str(err.get("msg", "Invalid value")), ".".join(str(p) for p in err["loc"]) or None)
            for err in exc.errors()[:50]
        ]
        raise many(400, items) from None


def _ref(index: int, field: str) -> str:
    return f"subscriptions.{index}.{field}"


def _require(principal: Principal) -> None:
    if not principal.holds(PERMISSION):
        raise Forbidden(f"The {PERMISSION} permission is required")
