"""Checker inbox (with live refresh), the request page with approve/reject, and the maker's own requests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, ErrorItem
from foureyes.workflows.queries import WorkflowQueries
from foureyes.workflows.schemas import DecisionBody
from foureyes.workflows.service import WorkflowService
from foureyes.workflows.types import TYPES, lookup

from . import present
from .directory import Directory
from .web import BASE, ConsoleRoute, ConsoleUser, User, ctx_of, page, redirect

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)
FILTERS = ("requestType", "states", "unit", "userId", "startDate", "endDate", "sortBy", "sortOrder", "PageNo")
NOTICES = {
    "created": "Your request was raised and is waiting for a checker.",
    "auto": "Your request was auto-approved by the workflow settings.",
    "approved": "Approved. The outcome of the downstream call is shown below.",
    "rejected": "Rejected. The maker can see your message.",
    "cancelled": "The request was cancelled.",
}
PAGE_SIZE = 20


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


async def _inbox_state(request: Request, user: ConsoleUser, *, mine: bool = False) -> dict[str, Any]:
    """Run the list (and the per-type counts) for the filters in the query string."""
    ctx = ctx_of(request)
    raw = {k: request.query_params.get(k, "").strip()[:100] for k in FILTERS}
    if "states" not in request.query_params:
        raw["states"] = "" if mine else "AdminTask"
    units = await Directory(ctx).units(user.principal)
    params = {k: v for k, v in raw.items() if k != "unit"}
    params["limit"] = str(PAGE_SIZE)
    if mine:
        params["userId"] = str(user.principal.id)
    kinds = {u.id: u.kind for u in units}
    if raw["unit"] and raw["unit"] in kinds:
        params[f"{kinds[raw['unit']]}Id"] = raw["unit"]
    errors: list[ErrorItem] = []
    rows: list[dict[str, Any]] = []
    pagination = {"totalElements": 0, "totalPages": 0, "number": 0}
    counts: dict[str, int] = {}
    queries = WorkflowQueries(ctx)
    try:
        rows, pagination = await queries.list(user.principal, params)
        for name in TYPES:
            _, p = await queries.list(user.principal, {**params, "requestType": name, "limit": "1", "PageNo": "0"})
            counts[name] = p["totalElements"]
    except AppError as exc:
        errors = exc.items
    # `states` is kept even when empty: "any state" must survive the live refresh and the page links.
    query = {k: v for k, v in raw.items() if v or k == "states"}
    return {
        "rows": [{**r, "stateLabel": present.state_label(r["state"])} for r in rows],
        "pagination": pagination,
        "counts": counts,
        "filters": raw,
        "errors": errors,
        "units": units,
        "people": await Directory(ctx).people(user.principal),
        "types": list(TYPES),
        "states": list(present.STATE_LABELS.items()),
        "query": urlencode(query),
        "page_link": lambda n: urlencode({**query, "PageNo": n}),
        "sort_link": lambda by, order: urlencode({**query, "sortBy": by, "sortOrder": order, "PageNo": 0}),
    }


@router.get("/inbox")
async def inbox(request: Request, user: User) -> Response:
    """Requests of the checker's org units, pending by default, with filters, sort, pages and counts."""
    user.require("CanCheckRequest")
    state = await _inbox_state(request, user)
    return page(request, "inbox.html", {**state, "title": "Inbox", "fragment": f"{BASE}/inbox/results"})


@router.get("/inbox/results")
async def inbox_results(request: Request, user: User) -> Response:
    """The result table alone: htmx polls it every few seconds."""
    user.require("CanCheckRequest")
    state = await _inbox_state(request, user)
    return page(request, "_results.html", {**state, "fragment": f"{BASE}/inbox/results"})


@router.get("/mine")
async def mine(request: Request, user: User) -> Response:
    """The maker's own requests, every state, newest first."""
    user.require("CanMakeRequest")
    state = await _inbox_state(request, user, mine=True)
    return page(
        request,
        "mine.html",
        {**state, "title": "My requests", "fragment": f"{BASE}/mine/results", "notice": notice(request)},
    )


@router.get("/mine/results")
async def mine_results(request: Request, user: User) -> Response:
    """The maker's result table alone (live refresh)."""
    user.require("CanMakeRequest")
    state = await _inbox_state(request, user, mine=True)
    return page(request, "_results.html", {**state, "fragment": f"{BASE}/mine/results"})


async def _request_page(
    request: Request, user: ConsoleUser, request_id: str, errors: list[ErrorItem] | None = None, status: int = 200
) -> Response:
    ctx = ctx_of(request)
    resource = await WorkflowQueries(ctx).get(user.principal, request_id[:64], with_timeline=True)
    principal = user.principal
    entity = resource["entityInfo"]
    unit_path = f"/{entity['conceptId']}/{entity['zoneId']}/{entity['storeId']}/{entity['tillId']}/"
    own = resource["userId"] == principal.id and principal.kind == "user"
    rtype = lookup(resource["requestType"])
    maker_can_check = False
    if rtype is not None and own:
        config, _ = await WorkflowService(ctx).current_config(principal.org_id, rtype)
        maker_can_check = config.makerCanCheck
    already = any(a.get("checkerId") == principal.id for a in resource.get("approvals", []))
    pending = resource["state"] == "AdminTask"
    can_decide = (
        pending and principal.can("CanCheckRequest", unit_path) and (not own or maker_can_check) and not already
    )
    task = resource["details"].get("IntouchAPITask-Payload", {})
    directory = Directory(ctx)
    units = {u.id: u.name for u in await directory.units(principal)}
    names = {f"user:{uid}": name for uid, name in await directory.people(principal)}
    context = {
        "title": f"Request {resource['requestId']}",
        "r": resource,
        "state_label": present.state_label(resource["state"]),
        "type_name": rtype.name if rtype else resource["requestType"],
        "summary": present.summary(rtype.name if rtype else "", task, await _badge_name(ctx, principal.org_id, task)),
        "url": present.call_url(task),
        "task": task,
        "body": present.pretty(task.get("body", {})),
        "dry_run": present.describe_dry_run(resource["details"].get("ValidatePayload_DryRun")),
        "timeline": [present.describe_event(e, names) for e in resource.get("timeline", [])],
        "outcome": present.outcome(resource),
        "unit_names": [units.get(entity[k], entity[k]) for k in ("conceptId", "zoneId", "storeId", "tillId")],
        "can_decide": can_decide,
        "can_cancel": own and pending,
        "own": own,
        "already": already,
        "errors": errors or [],
        "notice": notice(request),
    }
    return page(request, "request.html", context, status)


async def _badge_name(ctx: AppContext, org_id: int, task: dict[str, Any]) -> str | None:
    """The badge's name for the summary sentence (the id alone means little to a checker)."""
    body = task.get("body")
    badge_id = body.get("badgeMetaId") if isinstance(body, dict) else None
    if not isinstance(badge_id, str):
        return None
    from foureyes.badges.meta_service import MetaService

    try:
        found = await MetaService(ctx).get(org_id, badge_id[:64], include_statistics=False)
    except AppError:
        return None
    return str(found.get("name") or "") or None


@router.get("/requests/{request_id}")
async def request_detail(request: Request, request_id: str, user: User) -> Response:
    """Who asked, when, where; the call; the dry run; the decision form; the timeline; the outcome."""
    return await _request_page(request, user, request_id)


@router.post("/requests/{request_id}/decide")
async def decide(request: Request, request_id: str, user: User) -> Response:
    """Approve or reject (plain form post, then redirect: works without JavaScript)."""
    form = await request.form()
    decision = str(form.get("decision") or "")
    message = str(form.get("message") or "").strip()[:2000]
    if decision not in ("approved", "rejected"):
        return await _request_page(request, user, request_id, [ErrorItem(400, "Choose approve or reject.")], 400)
    if decision == "rejected" and not message:
        items = [ErrorItem(400, "Say why you reject the request; the maker will read it.", "message")]
        return await _request_page(request, user, request_id, items, 400)
    ctx = ctx_of(request)
    resource = await WorkflowQueries(ctx).get(user.principal, request_id[:64])
    body = DecisionBody.model_validate(
        {
            "requestId": resource["requestId"],
            "actionName": "AdminTask",
            "payload": {"AdminTask-Payload": {"actionDecision": decision, "actionMessage": message}},
        }
    )
    try:
        await WorkflowService(ctx).decide(user.principal, resource["requestType"], body)
    except AppError as exc:
        return await _request_page(request, user, request_id, exc.items, exc.status)
    return redirect(f"{BASE}/requests/{resource['requestId']}?notice={decision}")


@router.post("/requests/{request_id}/cancel")
async def cancel(request: Request, request_id: str, user: User) -> Response:
    """The maker withdraws their pending request."""
    form = await request.form()
    reason = str(form.get("reason") or "").strip()[:2000]
    try:
        await WorkflowService(ctx_of(request)).cancel(user.principal, request_id[:64], reason)
    except AppError as exc:
        return await _request_page(request, user, request_id, exc.items, exc.status)
    return redirect(f"{BASE}/requests/{request_id[:64]}?notice=cancelled")
