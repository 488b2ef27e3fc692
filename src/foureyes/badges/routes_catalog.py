"""Badge groups and custom fields routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from foureyes.badges.catalog_service import CatalogService
from foureyes.badges.org_meta_service import OrgMetaService
from foureyes.core.errors import envelope
from foureyes.identity.deps import ApiCaller, Ctx, require

router = APIRouter(prefix="/api_gateway/v1/badges", tags=["badges"])
READ, WRITE = "BadgesRead", "BadgesWrite"


@router.get("/group")
async def list_groups(ctx: Ctx, caller: ApiCaller, request: Request) -> dict[str, Any]:
    """List badge groups."""
    require(caller, READ)
    return envelope(await CatalogService(ctx).list_groups(caller, dict(request.query_params)))


@router.post("/group")
async def create_group(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> dict[str, Any]:
    """Create a badge group (name and rank)."""
    require(caller, WRITE)
    return envelope(await CatalogService(ctx).save_group(caller, body))


@router.put("/group/{group_id}")
async def update_group(ctx: Ctx, caller: ApiCaller, group_id: str, body: Any = Body(None)) -> dict[str, Any]:
    """Update a badge group."""
    require(caller, WRITE)
    return envelope(await CatalogService(ctx).save_group(caller, body, group_id))


@router.get("/group/{group_id}")
async def get_group(ctx: Ctx, caller: ApiCaller, group_id: str) -> dict[str, Any]:
    """One badge group."""
    require(caller, READ)
    return envelope(await CatalogService(ctx).get_group(caller, group_id))


@router.get("/customField")
async def list_custom_fields(ctx: Ctx, caller: ApiCaller, request: Request) -> dict[str, Any]:
    """List badge custom fields."""
    require(caller, READ)
    return envelope(await CatalogService(ctx).list_fields(caller, dict(request.query_params)))


@router.post("/customField", status_code=201)
async def create_custom_field(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> JSONResponse:
    """Create a badge custom field (answers 201, as documented)."""
    require(caller, WRITE)
    return JSONResponse(envelope(await CatalogService(ctx).save_field(caller, body)), status_code=201)


@router.get("/customField/{field_id}")
async def get_custom_field(ctx: Ctx, caller: ApiCaller, field_id: str) -> dict[str, Any]:
    """One badge custom field."""
    require(caller, READ)
    return envelope(await CatalogService(ctx).get_field(caller, field_id))


@router.put("/customField/{field_id}")
async def update_custom_field(ctx: Ctx, caller: ApiCaller, field_id: str, body: Any = Body(None)) -> dict[str, Any]:
    """Update a badge custom field (may deactivate it)."""
    require(caller, WRITE)
    return envelope(await CatalogService(ctx).save_field(caller, body, field_id))


@router.get("/orgMeta")
async def get_org_meta(ctx: Ctx, caller: ApiCaller) -> dict[str, Any]:
    """The org's badge configuration (tag definitions)."""
    require(caller, READ)
    return envelope(await OrgMetaService(ctx).get(caller))


@router.post("/orgMeta")
async def create_org_meta(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> dict[str, Any]:
    """Create the org's badge configuration (409 when it exists)."""
    require(caller, WRITE)
    return envelope(await OrgMetaService(ctx).save(caller, body, create=True))


@router.put("/orgMeta")
async def update_org_meta(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> dict[str, Any]:
    """Replace the org's badge configuration."""
    require(caller, WRITE)
    return envelope(await OrgMetaService(ctx).save(caller, body, create=False))
