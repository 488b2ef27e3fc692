"""Badge meta routes: create, update, list, get, activation, claims."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Header, Request

from foureyes.badges.common import MIGRATION_HEADER_VALUE, bool_arg
from foureyes.badges.meta_service import MetaService
from foureyes.badges.views_service import ViewsService
from foureyes.core.errors import envelope
from foureyes.identity.deps import ApiCaller, Ctx, require

router = APIRouter(prefix="/api_gateway/v1/badges", tags=["badges"])
READ, WRITE = "BadgesRead", "BadgesWrite"


@router.post("/badgeMeta")
async def create_badge(
    ctx: Ctx,
    caller: ApiCaller,
    body: Any = Body(None),
    migration: str | None = Header(None, alias="X-CAP-BADGES-MIGRATION"),
) -> dict[str, Any]:
    """Create a badge definition."""
    require(caller, WRITE)
    is_migration = (migration or "").strip().lower() == MIGRATION_HEADER_VALUE
    return envelope(await MetaService(ctx).create(caller, body, migration=is_migration))


@router.put("/badgeMeta")
async def update_badge(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> dict[str, Any]:
    """Update a badge definition (the body carries its id)."""
    require(caller, WRITE)
    return envelope(await MetaService(ctx).update(caller, body))


@router.get("/badgeMeta")
async def list_badges(ctx: Ctx, caller: ApiCaller, request: Request) -> dict[str, Any]:
    """List the org's badges with filters and pagination."""
    require(caller, READ)
    return envelope(await MetaService(ctx).list(caller, dict(request.query_params)))


@router.get("/badgeMeta/getFixedWindowDetails")
async def fixed_window_details(ctx: Ctx, caller: ApiCaller, request: Request) -> dict[str, Any]:
    """Fixed-window cycles of a badge, optionally with earn counts."""
    require(caller, READ)
    return envelope(await ViewsService(ctx).fixed_windows(caller, dict(request.query_params)))


@router.get("/badgeMeta/{badge_id}")
async def get_badge(ctx: Ctx, caller: ApiCaller, badge_id: str, includeStatistics: str | None = None) -> dict[str, Any]:
    """One badge by id, optionally with issued/earned counts."""
    require(caller, READ)
    stats = bool_arg(includeStatistics, "includeStatistics")
    return envelope(await MetaService(ctx).get(caller, badge_id, include_statistics=stats))


@router.put("/badgeMeta/{badge_id}/activate")
async def activate_badge(ctx: Ctx, caller: ApiCaller, badge_id: str) -> dict[str, Any]:
    """Activate a badge."""
    require(caller, WRITE)
    return envelope(await MetaService(ctx).set_active(caller, badge_id, True))


@router.put("/badgeMeta/{badge_id}/deactivate")
async def deactivate_badge(ctx: Ctx, caller: ApiCaller, badge_id: str) -> dict[str, Any]:
    """Deactivate a badge (it can no longer be earned)."""
    require(caller, WRITE)
    return envelope(await MetaService(ctx).set_active(caller, badge_id, False))


@router.post("/badgeMeta/{badge_id}/claim")
async def claim_badge(ctx: Ctx, caller: ApiCaller, badge_id: str, body: Any = Body(None)) -> dict[str, Any]:
    """Claim a badge for an owner module and reference."""
    require(caller, WRITE)
    return envelope(await MetaService(ctx).claim(caller, badge_id, body, claim=True))


@router.post("/badgeMeta/{badge_id}/unclaim")
async def unclaim_badge(ctx: Ctx, caller: ApiCaller, badge_id: str, body: Any = Body(None)) -> dict[str, Any]:
    """Soft-delete an active claim."""
    require(caller, WRITE)
    return envelope(await MetaService(ctx).claim(caller, badge_id, body, claim=False))
