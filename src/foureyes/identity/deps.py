"""FastAPI dependencies: the app context, the caller, and the org-header rules of contract §3."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request

from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, Forbidden
from foureyes.identity.principal import Principal

ORG_HEADER = "x-cap-api-auth-org-id"


async def get_ctx(request: Request) -> AppContext:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, one thread hop per request.
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def current_principal(request: Request, ctx: Ctx) -> Principal:
    principal = await ctx.auth.authenticate(request.headers)
    request.state.org = principal.org_id
    request.state.actor = principal.actor
    structlog.contextvars.bind_contextvars(org=principal.org_id, actor=principal.actor)
    return principal


Caller = Annotated[Principal, Depends(current_principal)]


def _header_org(request: Request) -> int | None:
    raw = request.headers.get(ORG_HEADER)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise AppError(2005, "X-CAP-API-AUTH-ORG-ID must be a number", "X-CAP-API-AUTH-ORG-ID") from None


async def workflow_caller(request: Request, principal: Caller) -> Principal:
    """Request-workflow calls: the org header is required and must name the caller's org."""
    raw = request.headers.get(ORG_HEADER)
    if raw is None or raw.strip() == "":
        raise AppError(2026, "The X-CAP-API-AUTH-ORG-ID header is required", "X-CAP-API-AUTH-ORG-ID")
    org = _header_org(request)
    if org != principal.org_id:
        raise Forbidden("X-CAP-API-AUTH-ORG-ID does not match the caller's org")
    return principal


async def api_caller(request: Request, principal: Caller) -> Principal:
    """Badges and customers: the org header is optional, but when sent it must name the caller's org."""
    org = _header_org(request)
    if org is not None and org != principal.org_id:
        raise Forbidden("X-CAP-API-AUTH-ORG-ID does not match the caller's org")
    return principal


WorkflowCaller = Annotated[Principal, Depends(workflow_caller)]
ApiCaller = Annotated[Principal, Depends(api_caller)]


def require(principal: Principal, permission: str) -> None:
    """The permission is held somewhere in the org; unit-level checks happen in the services."""
    if not principal.holds(permission):
        raise Forbidden(f"The {permission} permission is required")
