"""Dry runs of the downstream effect, run in-process when the request targets this server's own services.

Only our own badges and customers services are asked: a foreign downstream might not honour a dry-run flag
and would then perform the effect at creation time, before any checker saw it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.badges.earn_service import BadgesService
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, ErrorItem
from foureyes.workflows.types import RequestType

BODY = "payload.IntouchAPITask-Payload.body"


async def dry_run(
    ctx: AppContext, s: AsyncSession, org_id: int, rtype: RequestType, task: dict[str, Any], target_base: str
) -> tuple[dict[str, Any] | None, list[ErrorItem]]:
    """(what would happen, problems), read in the caller's read transaction `s`. None when no dry run applies
    (foreign downstream or no hook)."""
    if rtype.dry_run is None or not _is_self(ctx, target_base):
        return None, []
    try:
        if rtype.dry_run == "earn":
            return await BadgesService(ctx, dry_run_session=s).earn(org_id, task["body"], dry_run=True), []
        if rtype.dry_run == "issue":
            return await BadgesService(ctx, dry_run_session=s).issue_bulk(org_id, task["body"], dry_run=True), []
        if rtype.dry_run == "status":
            return await _status_dry_run(s, org_id, task), []
    except AppError as exc:
        return None, [
            ErrorItem(2008, f"dry run: {i.code} {i.message}", BODY + (f".{i.reference}" if i.reference else ""))
            for i in exc.items
        ]
    return None, []


async def _status_dry_run(s: AsyncSession, org_id: int, task: dict[str, Any]) -> dict[str, Any]:
    from foureyes.customers.repository import CustomerRepository, identifier_column

    query = task.get("queryParams", {})
    name, value = str(query.get("identifierName", "")), str(query.get("identifierValue", ""))
    if identifier_column(name) is None:
        raise AppError(1028, f"identifierName {name!r} is not supported", "queryParams.identifierName")
    customer = await CustomerRepository(s).by_identifier(org_id, name, value)
    if customer is None:
        raise AppError(1026, "Customer not found", "queryParams.identifierValue")
    return {"customerId": customer.id, "currentLabel": customer.status_label, "newLabel": task["body"].get("label")}


def _is_self(ctx: AppContext, target_base: str) -> bool:
    own = {ctx.settings.own_base_url.rstrip("/").lower(), f"http://{ctx.settings.host}:{ctx.settings.port}"}
    return target_base.rstrip("/").lower() in own
