"""HTTP routes of the webhooks feature: org-level subscriptions and the recent deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from foureyes.core.errors import envelope
from foureyes.identity.deps import Ctx, WorkflowCaller
from foureyes.webhooks.service import WebhookService

router = APIRouter(prefix="/api_gateway/v2/webhooks", tags=["webhooks"])


@router.get("")
async def get_subscriptions(caller: WorkflowCaller, ctx: Ctx) -> dict[str, Any]:
    """The org's webhook subscriptions (secrets shown as ****); needs CanConfigureWorkflows."""
    return envelope(await WebhookService(ctx).subscriptions(caller))


@router.put("")
async def put_subscriptions(caller: WorkflowCaller, ctx: Ctx, body: Annotated[Any, Body()] = None) -> dict[str, Any]:
    """Replace the org's subscriptions `{"subscriptions":[{url, secret, events}]}`; secret `****` keeps the old one."""
    return envelope(await WebhookService(ctx).replace_subscriptions(caller, body))


@router.get("/deliveries")
async def list_deliveries(
    caller: WorkflowCaller,
    ctx: Ctx,
    status: Annotated[str, Query(max_length=16)] = "",
    limit: Annotated[int, Query()] = 50,
) -> dict[str, Any]:
    """Recent webhook deliveries of the org, newest first (status: pending, delivered or failed)."""
    return envelope(await WebhookService(ctx).deliveries(caller, status, limit))
