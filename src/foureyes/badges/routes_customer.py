"""A customer's badges: the app view, the management list and the per-badge detail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request

from foureyes.badges.common import bool_arg
from foureyes.badges.views_service import ViewsService
from foureyes.core.errors import envelope
from foureyes.identity.deps import ApiCaller, Ctx, require

router = APIRouter(prefix="/api_gateway/v1/badges", tags=["badges"])
READ = "BadgesRead"
IDENTIFIER = "X-CAP-CUSTOMER-IDENTIFIER"


@router.get("/customer/{customer_id}")
async def customer_badges(
    ctx: Ctx, caller: ApiCaller, customer_id: str, request: Request,
    identifier: str | None = Header(None, alias=IDENTIFIER),
) -> dict[str, Any]:  # fmt: skip
    """Badges a customer has earned or can earn."""
    require(caller, READ)
    q = dict(request.query_params)
    return envelope(await ViewsService(ctx).customer_badges(caller, customer_id, q, identifier))


@router.get("/management/{customer_id}")
async def management_badges(
    ctx: Ctx, caller: ApiCaller, customer_id: str, request: Request,
    identifier: str | None = Header(None, alias=IDENTIFIER),
) -> dict[str, Any]:  # fmt: skip
    """A customer's badges for operators, filtered and paginated."""
    require(caller, READ)
    q = dict(request.query_params)
    return envelope(await ViewsService(ctx).management(caller, customer_id, q, identifier))


@router.get("/management/{customer_id}/badge/{badge_id}")
async def customer_badge_detail(
    ctx: Ctx, caller: ApiCaller, customer_id: str, badge_id: str,
    includeStatistics: str | None = None, identifier: str | None = Header(None, alias=IDENTIFIER),
) -> dict[str, Any]:  # fmt: skip
    """One badge of one customer: issuals, earns and limit statistics."""
    require(caller, READ)
    stats = bool_arg(includeStatistics, "includeStatistics")
    svc = ViewsService(ctx)
    return envelope(await svc.explode(caller, customer_id, badge_id, include_statistics=stats, identifier=identifier))
