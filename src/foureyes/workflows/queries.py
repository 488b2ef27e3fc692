"""Reading requests: one request, the list with its filters, and the timeline; visibility in one place."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, Forbidden, NotFound
from foureyes.identity.principal import Principal
from foureyes.workflows.listing import ListQuery
from foureyes.workflows.models import STATES
from foureyes.workflows.presenter import request_resource, timeline
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.types import lookup

READ_PERMISSIONS = ("CanMakeRequest", "CanCheckRequest", "CanConfigureWorkflows")


def visibility(principal: Principal) -> list[str] | None:
    """Unit paths whose requests the caller may read; None = the whole org. Makers always see their own."""
    if principal.holds("CanConfigureWorkflows"):
        return None
    paths: list[str] = []
    for permission in ("CanMakeRequest", "CanCheckRequest"):
        scope = principal.scope(permission)
        if scope is None and principal.holds(permission):
            return None
        paths.extend(scope or [])
    return sorted(set(paths))


def _can_read(principal: Principal) -> None:
    if not any(principal.holds(p) for p in READ_PERMISSIONS):
        raise Forbidden("Reading requests needs CanMakeRequest, CanCheckRequest or CanConfigureWorkflows")


class WorkflowQueries:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def get(self, principal: Principal, request_id: str, *, with_timeline: bool = False) -> dict[str, Any]:
        _can_read(principal)
        async with self.ctx.db.read() as s:
            repo = WorkflowRepository(s)
            row = await repo.get(principal.org_id, request_id)
            if row is None or not _visible(principal, row.unit_path, row.maker_kind, row.maker_id):
                raise NotFound(2007, "No such request", "requestId")
            resource = request_resource(row)
            if with_timeline:
                resource["timeline"] = timeline(list(await repo.events(principal.org_id, request_id)))
            return resource

    async def list(self, principal: Principal, params: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        _can_read(principal)
        q = parse_list_params(principal, params)
        async with self.ctx.db.read() as s:
            rows, total = await WorkflowRepository(s).search(q)
        pagination = {
            "totalElements": total,
            "totalPages": math.ceil(total / q.limit) if total else 0,
            "numberOfElements": len(rows),
            "number": q.page,
        }
        return [request_resource(r) for r in rows], pagination


def _visible(principal: Principal, unit_path: str, maker_kind: str, maker_id: int) -> bool:
    scopes = visibility(principal)
    if scopes is None or (maker_kind, maker_id) == (principal.kind, principal.id):
        return True
    return any(unit_path.startswith(p) for p in scopes)


def _param(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    return value.strip() if value is not None and value.strip() != "" else None


def parse_list_params(principal: Principal, params: dict[str, str]) -> ListQuery:
    """Documented filters; empty parameters are ignored (the documented example sends them)."""
    sort_by = _param(params, "sortBy") or "startDate"
    if sort_by not in ("startDate", "endDate"):
        raise AppError(2011, "sortBy must be startDate or endDate", "sortBy")
    order = (_param(params, "sortOrder") or "desc").lower()
    if order not in ("asc", "desc"):
        raise AppError(2012, "sortOrder must be asc or desc", "sortOrder")
    states = [s.strip() for s in (_param(params, "states") or "").split(",") if s.strip()]
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise AppError(2008, f"Unknown state(s): {', '.join(unknown)[:200]}", "states")
    rtype_name = _param(params, "requestType")
    rtype = lookup(rtype_name) if rtype_name else None
    if rtype_name and rtype is None:
        raise AppError(2009, f"Request type {rtype_name[:60]!r} is not supported", "requestType")
    scopes = visibility(principal)
    return ListQuery(
        org_id=principal.org_id,
        unit_scopes=scopes,
        visible_maker=(principal.kind, principal.id) if scopes is not None else None,
        maker_id=_int(params, "userId"),
        request_type=rtype.name if rtype else None,
        states=states,
        concept_id=_param(params, "conceptId"),
        zone_id=_param(params, "zoneId"),
        store_id=_param(params, "storeId"),
        till_id=_param(params, "tillId"),
        start_from=_day(params, "startDate"),
        start_before=(d + timedelta(days=1)) if (d := _day(params, "endDate")) else None,
        sort_by=sort_by,
        descending=order == "desc",
        page=_int(params, "PageNo", minimum=0) or 0,
        limit=min(_int(params, "limit", minimum=1) or 10, 100),
    )


def _int(params: dict[str, str], name: str, minimum: int | None = None) -> int | None:
    raw = _param(params, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise AppError(2008, f"{name} must be a number", name) from None
    if minimum is not None and value < minimum:
        raise AppError(2008, f"{name} must be at least {minimum}", name)
    if value > 10**12:
        raise AppError(2008, f"{name} is too large", name)
    return value


def _day(params: dict[str, str], name: str) -> datetime | None:
    raw = _param(params, name)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        raise AppError(2008, f"{name} must be YYYY-MM-DD", name) from None
    return datetime(day.year, day.month, day.day)
