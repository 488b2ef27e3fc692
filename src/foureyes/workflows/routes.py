"""Request Workflow v2 routes: create, decide, get, list, cancel, timeline and configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from foureyes.identity.deps import Ctx, WorkflowCaller
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.config_service import ConfigService
from foureyes.workflows.queries import WorkflowQueries
from foureyes.workflows.schemas import CancelBody, CreateRequestBody, DecisionBody
from foureyes.workflows.service import WorkflowService

PREFIX = "/api_gateway/v2/request-workflow"
router = APIRouter(prefix=PREFIX, tags=["request workflow"])


@router.get("/requests")
async def list_requests(request: Request, caller: WorkflowCaller, ctx: Ctx) -> dict[str, Any]:
    """List requests visible to the caller, with the documented filters, sort and 0-based PageNo."""
    data, pagination = await WorkflowQueries(ctx).list(caller, dict(request.query_params))
    return {"data": data, "pagination": pagination}


@router.get("/requests/{request_id}")
async def get_request(
    request_id: str,
    caller: WorkflowCaller,
    ctx: Ctx,
    timeline: bool = Query(False, description="Include the step/decision/attempt timeline."),
) -> dict[str, Any]:
    """One request by id (another org's id answers 404)."""
    return {"data": await WorkflowQueries(ctx).get(caller, request_id, with_timeline=timeline)}


@router.post("/requests/{request_id}/cancel")
async def cancel_request(request_id: str, body: CancelBody, caller: WorkflowCaller, ctx: Ctx) -> dict[str, Any]:
    """The maker withdraws their own pending request (ours)."""
    return {"data": await WorkflowService(ctx).cancel(caller, request_id, body.reason)}


@router.get("/config/{request_type}")
async def get_config(
    request_type: str,
    caller: WorkflowCaller,
    ctx: Ctx,
    history: bool = Query(False, description="Include earlier revisions."),
) -> dict[str, Any]:
    """The configuration in force for one request type (ours; CanConfigureWorkflows)."""
    return {"data": await ConfigService(ctx).get(caller, request_type, history)}


@router.put("/config/{request_type}")
async def put_config(request_type: str, body: WorkflowConfig, caller: WorkflowCaller, ctx: Ctx) -> dict[str, Any]:
    """Replace the configuration of one request type; stored as a new revision (ours)."""
    return {"data": await ConfigService(ctx).put(caller, request_type, body)}


@router.post("/{request_type}")
async def create_request(
    request_type: str, body: CreateRequestBody, caller: WorkflowCaller, ctx: Ctx
) -> dict[str, Any]:
    """Raise a request (maker): validated, stored in AdminTask, or executed at once when auto-approved."""
    return {"data": await WorkflowService(ctx).create(caller, request_type, body)}


@router.put("/{request_type}")
async def decide_request(request_type: str, body: DecisionBody, caller: WorkflowCaller, ctx: Ctx) -> dict[str, Any]:
    """Approve or reject a pending request (checker); answers the state after the first execution attempt."""
    return {"data": await WorkflowService(ctx).decide(caller, request_type, body)}
