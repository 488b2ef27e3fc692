"""Earn, enrol, revoke and import routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Header

from foureyes.badges.common import bool_arg
from foureyes.badges.earn_service import BadgesService
from foureyes.badges.revoke_service import RevokeService
from foureyes.core.errors import envelope
from foureyes.identity.deps import ApiCaller, Ctx, require

router = APIRouter(prefix="/api_gateway/v1/badges", tags=["badges"])
WRITE = "BadgesWrite"
IDENTIFIER = "X-CAP-CUSTOMER-IDENTIFIER"


# First in this router: it is what the executor calls for every approved EARN-BADGE (foureyes.app, route walk).
@router.post("/customer/earn")
async def earn(
    ctx: Ctx,
    caller: ApiCaller,
    body: Any = Body(None),
    dryRun: str | None = None,
    identifier: str | None = Header(None, alias=IDENTIFIER),
) -> dict[str, Any]:
    """A customer earns a badge (`dryRun=true` checks and reports without writing)."""
    require(caller, WRITE)
    svc = BadgesService(ctx)
    return envelope(await svc.earn(caller, body, dry_run=bool_arg(dryRun, "dryRun"), identifier=identifier))


@router.post("/badgeMeta/customer/issueBulk")
async def issue_bulk(ctx: Ctx, caller: ApiCaller, body: Any = Body(None), dryRun: str | None = None) -> dict[str, Any]:
    """Enrol customers for a badge (`dryRun=true` checks and reports without writing)."""
    require(caller, WRITE)
    return envelope(await BadgesService(ctx).issue_bulk(caller, body, dry_run=bool_arg(dryRun, "dryRun")))


@router.post("/badgeMeta/customer/revokeIssue")
async def revoke_issue(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> dict[str, Any]:
    """Revoke customers' enrolments."""
    require(caller, WRITE)
    return envelope(await RevokeService(ctx).revoke_issue(caller, body))


@router.post("/customer/earnBulk")
async def earn_bulk(ctx: Ctx, caller: ApiCaller, body: Any = Body(None), dryRun: str | None = None) -> dict[str, Any]:
    """Several customers earn a badge (`dryRun=true` checks and reports without writing)."""
    require(caller, WRITE)
    return envelope(await BadgesService(ctx).earn_bulk(caller, body, dry_run=bool_arg(dryRun, "dryRun")))


@router.post("/customer/revokeEarn")
async def revoke_earn(
    ctx: Ctx, caller: ApiCaller, body: Any = Body(None), identifier: str | None = Header(None, alias=IDENTIFIER)
) -> dict[str, Any]:
    """Revoke an earned badge."""
    require(caller, WRITE)
    return envelope(await RevokeService(ctx).revoke_earn(caller, body, identifier=identifier))


@router.put("/import/customerBadges", operation_id="import_customer_badges_put")
@router.post("/import/customerBadges", operation_id="import_customer_badges_post")
async def import_customer_badges(ctx: Ctx, caller: ApiCaller, body: Any = Body(None)) -> list[dict[str, Any]]:
    """Import historical earned badges (one envelope per row)."""
    require(caller, WRITE)
    return await RevokeService(ctx).import_earned(caller, body)
