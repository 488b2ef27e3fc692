"""Badge admin pages: list, create and edit definitions, claims, activation, and one customer's badges."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from foureyes.badges.meta_service import MetaService
from foureyes.badges.views_service import ViewsService
from foureyes.core.errors import AppError, ErrorItem

from . import badge_forms
from .directory import IDENTIFIER_NAMES
from .web import BASE, ConsoleRoute, ConsoleUser, User, ctx_of, page, redirect

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)
READ, WRITE = "BadgesRead", "BadgesWrite"
NOTICES = {
    "created": "Badge created.",
    "saved": "Badge saved.",
    "claimed": "Claim added.",
    "unclaimed": "Claim removed.",
    "activated": "Badge activated.",
    "deactivated": "Badge deactivated.",
}


def _field_errors(errors: list[ErrorItem]) -> dict[str, list[str]]:
    """Badge error references (`ownership.restrictedToOwners`, `customerConstraints[0].maxEarnLimit`) → fields."""
    out: dict[str, list[str]] = {}
    for item in errors:
        ref = item.reference or ""
        head = ref.split(".")[0].split("[")[0]
        field = {
            "ownership": "owners",
            "customerConstraints": "customer_limit",
            "badgeConstraints": "badge_limit",
            "earnedBadgeExpiry": "earned_kind",
            "issuedBadgeExpiry": "issued_kind",
            "isActive": "active",
        }.get(head, head)
        out.setdefault(field, []).append(item.message)
    return out


@router.get("/badges")
async def badges(request: Request, user: User) -> Response:
    """Every badge of the org with status, owners, claims and counts."""
    user.require(READ, WRITE)
    query = {"size": "100", "sortOn": "NAME"}
    name = request.query_params.get("name", "").strip()[:100]
    if name:
        query["name"] = name
    errors: list[ErrorItem] = []
    listed: dict[str, Any] = {"metaBasicDetails": [], "pagination": {"total": 0}}
    try:
        listed = await MetaService(ctx_of(request)).list(user.principal, query)
    except AppError as exc:
        errors = exc.items
    context = {
        "title": "Badges",
        "badges": listed["metaBasicDetails"],
        "total": listed["pagination"].get("total", 0),
        "name": name,
        "errors": errors,
        "can_write": user.holds(WRITE),
        "identifier_names": ("id", *IDENTIFIER_NAMES),
        "notice": NOTICES.get(request.query_params.get("notice", "")),
    }
    return page(request, "badges.html", context)


async def _form_page(
    request: Request, user: ConsoleUser, values: dict[str, Any], badge: dict[str, Any] | None,
    errors: list[ErrorItem] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    context = {
        "title": badge["name"] if badge else "New badge",
        "badge": badge,
        "values": values,
        "errors": errors or [],
        "field_errors": _field_errors(errors or []),
        "owner_types": badge_forms.OWNER_TYPES,
        "units": badge_forms.UNITS,
        "limit_kinds": badge_forms.LIMIT_KINDS,
        "can_write": user.holds(WRITE),
        "notice": NOTICES.get(request.query_params.get("notice", "")),
    }
    return page(request, "badge.html", context, status)


async def _values(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {k: str(form.get(k) or "").strip()[:2000] for k in badge_forms.FIELDS}
    values["owners"] = [str(o) for o in form.getlist("owners")][:20]
    return values


@router.get("/badges/new")
async def new_badge(request: Request, user: User) -> Response:
    """An empty badge definition form."""
    user.require(WRITE)
    return await _form_page(request, user, badge_forms.blank_form(ctx_of(request).clock.now()), None)


@router.post("/badges/new")
async def create_badge(request: Request, user: User) -> Response:
    """Create the badge through the badges service (same rules as POST badgeMeta)."""
    user.require(WRITE)
    values = await _values(request)
    try:
        created = await MetaService(ctx_of(request)).create(user.principal, badge_forms.to_body(values))
    except AppError as exc:
        return await _form_page(request, user, values, None, exc.items, exc.status)
    return redirect(f"{BASE}/badges/{created['id']}?notice=created")


@router.get("/badges/{badge_id}")
async def badge(request: Request, user: User, badge_id: str) -> Response:
    """One badge: its definition (editable with BadgesWrite), claims and counts."""
    user.require(READ, WRITE)
    found = await MetaService(ctx_of(request)).get(user.principal, badge_id[:64], include_statistics=True)
    return await _form_page(request, user, badge_forms.to_form(found), found)


@router.post("/badges/{badge_id}")
async def update_badge(request: Request, user: User, badge_id: str) -> Response:
    """Replace the definition (limits, expiry, owners, dates); fields the form does not show are kept."""
    user.require(WRITE)
    service = MetaService(ctx_of(request))
    found = await service.get(user.principal, badge_id[:64], include_statistics=True)
    values = await _values(request)
    try:
        await service.update(user.principal, badge_forms.to_body(values, found))
    except AppError as exc:
        return await _form_page(request, user, values, found, exc.items, exc.status)
    return redirect(f"{BASE}/badges/{found['id']}?notice=saved")


async def _badge_action(request: Request, user: ConsoleUser, badge_id: str, action: str) -> Response:
    user.require(WRITE)
    form = await request.form()
    service = MetaService(ctx_of(request))
    body = {"ownerType": str(form.get("ownerType") or ""), "referenceId": str(form.get("referenceId") or "").strip()}
    try:
        if action in ("claimed", "unclaimed"):
            await service.claim(user.principal, badge_id[:64], body, claim=action == "claimed")
        else:
            await service.set_active(user.principal, badge_id[:64], action == "activated")
    except AppError as exc:
        found = await service.get(user.principal, badge_id[:64], include_statistics=True)
        return await _form_page(request, user, badge_forms.to_form(found), found, exc.items, exc.status)
    return redirect(f"{BASE}/badges/{badge_id[:64]}?notice={action}")


@router.post("/badges/{badge_id}/claim")
async def claim(request: Request, user: User, badge_id: str) -> Response:
    """Claim the badge for an owner module and reference id."""
    return await _badge_action(request, user, badge_id, "claimed")


@router.post("/badges/{badge_id}/unclaim")
async def unclaim(request: Request, user: User, badge_id: str) -> Response:
    """Remove (soft-unclaim) one claim."""
    return await _badge_action(request, user, badge_id, "unclaimed")


@router.post("/badges/{badge_id}/activate")
async def activate(request: Request, user: User, badge_id: str) -> Response:
    """Activate the badge."""
    return await _badge_action(request, user, badge_id, "activated")


@router.post("/badges/{badge_id}/deactivate")
async def deactivate(request: Request, user: User, badge_id: str) -> Response:
    """Deactivate the badge."""
    return await _badge_action(request, user, badge_id, "deactivated")


@router.get("/customers/badges")
async def customer_badges(request: Request, user: User) -> Response:
    """One customer's badges: earned (with counts) and those they can still be enrolled in or earn."""
    user.require(READ, WRITE)
    name = request.query_params.get("customer_name", "id")[:20]
    value = request.query_params.get("customer_value", "").strip()[:254]
    context: dict[str, Any] = {"title": "Customer badges", "name": name, "value": value, "errors": []}
    context |= {"identifier_names": ("id", *IDENTIFIER_NAMES), "earned": [], "available": []}
    if value:
        views = ViewsService(ctx_of(request))
        identifier = None if name == "id" else name
        try:
            earned = await views.management(user.principal, value, {"badgeType": "EARNED", "size": "100"}, identifier)
            available = await views.management(user.principal, value, {"badgeType": "AVAILABLE", "size": "100"},
                                               identifier)  # fmt: skip
            context |= {"earned": earned["customerBadges"], "available": available["customerBadges"], "found": True}
        except AppError as exc:
            context["errors"] = exc.items
    return page(request, "customer_badges.html", context)
