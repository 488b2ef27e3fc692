"""The maker form: raise EARN-BADGE, ISSUE-BADGE or CUSTOMER-STATUS-CHANGE with pickers instead of JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from foureyes.core.errors import AppError
from foureyes.workflows.service import WorkflowService, request_type

from .directory import IDENTIFIER_NAMES, Directory
from .forms import MAKER_TYPES, STATUS_LABELS, MakerForm, build_body
from .web import BASE, ConsoleRoute, ConsoleUser, User, ctx_of, page, redirect

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)
FIELDS = (
    "type", "till", "hostname", "till_username", "till_password", "badge", "owner_type", "reference_id",
    "customer_name", "customer_value", "customers", "identifier_name", "identifier_value", "label", "reason",
)  # fmt: skip


async def _badges(request: Request, user: ConsoleUser) -> list[dict[str, Any]]:
    """Live and upcoming badges of the org for the picker (empty when the badges feature is unavailable)."""
    try:
        from foureyes.badges.meta_service import MetaService
    except ImportError:
        return []
    listed = await MetaService(ctx_of(request)).list(user.principal.org_id, {"size": "200", "sortOn": "NAME"})
    return [b for b in listed["metaBasicDetails"] if b.get("status") != "EXPIRED" and b.get("active")]


async def _form_page(request: Request, user: ConsoleUser, form: MakerForm, status: int = 200) -> Response:
    ctx = ctx_of(request)
    type_name = form.get("type") if form.get("type") in MAKER_TYPES else MAKER_TYPES[0]
    rtype = request_type(type_name)
    config, _ = await WorkflowService(ctx).current_config(user.principal.org_id, rtype)
    if not form.get("hostname") and config.allowedHosts:
        form.values["hostname"] = config.allowedHosts[0]
    form.values.pop("till_password", None)  # never echo a password back into the page
    badges = await _badges(request, user) if type_name != "CUSTOMER-STATUS-CHANGE" else []
    context = {
        "title": "New request",
        "form": form,
        "field_errors": form.field_errors(),
        "errors": form.errors,
        "type_name": type_name,
        "types": MAKER_TYPES,
        "tills": await Directory(ctx).tills(user.principal),
        "hosts": config.allowedHosts,
        "badges": badges,
        "owner_types": _owner_types(badges),
        "claim_refs": sorted({str(c["referenceId"]) for b in badges for c in _claims(b)}),
        "identifier_names": IDENTIFIER_NAMES,
        "status_labels": STATUS_LABELS,
    }
    return page(request, "maker.html", context, status)


def _claims(badge: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in badge.get("ownership", {}).get("claims", []) if c.get("isActive")]


def _owner_types(badges: list[dict[str, Any]]) -> list[str]:
    return sorted({c["ownerType"] for b in badges for c in _claims(b)} | {"Goodwill_Module"})


@router.get("/requests/new")
async def new_request(request: Request, user: User) -> Response:
    """The maker form for one request type (?type=EARN-BADGE|ISSUE-BADGE|CUSTOMER-STATUS-CHANGE)."""
    user.require("CanMakeRequest")
    values = {k: request.query_params.get(k, "")[:200] for k in ("type", "till")}
    return await _form_page(request, user, MakerForm(values))


@router.post("/requests/new")
async def raise_request(request: Request, user: User) -> Response:
    """Build the API body from the form and create the request through the workflow service."""
    user.require("CanMakeRequest")
    raw = await request.form()
    form = MakerForm({k: str(raw.get(k) or "").strip()[:500] for k in FIELDS})
    if form.get("type") not in MAKER_TYPES:
        form.error("type", "Choose a request type.")
        return await _form_page(request, user, form, 400)
    ctx = ctx_of(request)
    rtype = request_type(form.get("type"))
    directory = Directory(ctx)
    body = await build_body(directory, user.principal, rtype, form, await directory.tills(user.principal))
    if body is None:
        return await _form_page(request, user, form, 400)
    try:
        created = await WorkflowService(ctx).create(user.principal, rtype.name, body)
    except AppError as exc:
        form.errors.extend(exc.items)
        return await _form_page(request, user, form, exc.status)
    flag = "created" if created["state"] == "AdminTask" else "auto"
    return redirect(f"{BASE}/requests/{created['requestId']}?notice={flag}")


@router.get("/customers/find")
async def find_customer(request: Request, user: User) -> Response:
    """htmx preview of the customer a maker is typing (name, status), so they pick the right person."""
    user.require("CanMakeRequest", "BadgesRead", "BadgesWrite")
    name = request.query_params.get("customer_name", request.query_params.get("identifier_name", "mobile"))[:20]
    value = request.query_params.get("customer_value", request.query_params.get("identifier_value", ""))[:254]
    found = await Directory(ctx_of(request)).customer(user.principal, name, value) if value.strip() else None
    return page(request, "_customer.html", {"found": found, "name": name, "value": value})
