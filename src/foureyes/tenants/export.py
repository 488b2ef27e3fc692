"""Write one org back out in the tenant-file shape; seeding the export changes nothing.

Passwords, client secrets and webhook secrets are never exported: a user without `password` (and a
webhook without `secret`) keeps the stored one when the file is seeded again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from foureyes.badges.models import BadgeMeta
from foureyes.badges.schemas import DOC_FIELDS
from foureyes.core.context import AppContext
from foureyes.core.errors import NotFound
from foureyes.identity.models import OrgUnit
from foureyes.identity.repository import IdentityRepository
from foureyes.tenants.records import CUSTOMER_FIELDS
from foureyes.tenants.repository import TenantRepository


async def export_org(ctx: AppContext, org_id: int) -> dict[str, Any]:
    """The tenant file of one org (`{"orgs": [...]}`), secrets omitted."""
    async with ctx.db.read() as s:
        ids, tenants = IdentityRepository(s), TenantRepository(s)
        org = await ids.get_org(org_id)
        if org is None:
            raise NotFound(404, f"Org {org_id} does not exist")
        out: dict[str, Any] = {"id": org.id, "name": org.name, "units": _tree(list(await ids.list_units(org_id)))}
        out["users"] = [
            {"username": u.username, "kind": u.kind, "permissions": await _grants(ids, "user", u.id)}
            for u in await ids.list_users(org_id)
        ]
        out["clients"] = [
            {"key": c.key, "name": c.name, "permissions": await _grants(ids, "client", c.id)}
            for c in await ids.list_clients(org_id)
        ]
        out["customers"] = [
            {"id": c.id} | {name: getattr(c, attr) for name, attr in CUSTOMER_FIELDS.items() if getattr(c, attr)}
            for c in await tenants.customers(org_id)
        ]
        claims: dict[str, list[dict[str, str]]] = defaultdict(list)
        for claim in await tenants.active_claims(org_id):
            claims[claim.badge_id].append({"ownerType": claim.owner_type, "referenceId": claim.reference_id})
        out["badges"] = [
            {"id": b.id, "meta": meta_body(b), "claims": claims.get(b.id, [])} for b in await tenants.badges(org_id)
        ]
        configs = await tenants.current_configs(org_id)
        out["workflows"] = {name: _config_without_secrets(rev.config) for name, rev in sorted(configs.items())}
    return {"orgs": [out]}


async def _grants(repo: IdentityRepository, kind: str, principal_id: int) -> list[dict[str, str | None]]:
    return [{"name": g.permission, "unit": g.unit_id} for g in await repo.list_grants(kind, principal_id)]


def _tree(units: list[OrgUnit]) -> list[dict[str, Any]]:
    """Nested units; `units` are ordered by path, so every parent comes before its children."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for u in units:
        node: dict[str, Any] = {"kind": u.kind, "id": u.id, "name": u.name, "children": []}
        nodes[u.id] = node
        parent = nodes.get(u.parent_id) if u.parent_id else None
        (parent["children"] if parent is not None else roots).append(node)
    for node in nodes.values():
        if not node["children"]:
            del node["children"]
    return roots


def _when(value: datetime) -> str:
    """ISO-8601 UTC keeping microseconds, so the seeded time equals the stored one exactly."""
    return value.isoformat(timespec="microseconds") + "Z"


def meta_body(meta: BadgeMeta) -> dict[str, Any]:
    """A badgeMeta create body that parses back to this badge."""
    d = meta.doc
    body: dict[str, Any] = {
        "name": meta.name,
        "earnType": meta.earn_type,
        "startOn": _when(meta.start_on),
        "expiresOn": _when(meta.expires_on),
        "active": meta.active,
        "earnedBadgeExpiry": d.get("earnedBadgeExpiry"),
        "ownership": {"restrictedToOwners": d.get("restrictedToOwners", [])},
        "customerConstraints": d.get("customerConstraints", []),
        "badgeConstraints": d.get("badgeConstraints", []),
    }
    if d.get("issuedBadgeExpiry") is not None:
        body["issuedBadgeExpiry"] = d["issuedBadgeExpiry"]
    body |= {k: d[k] for k in DOC_FIELDS if d.get(k) is not None}
    if meta.group_id is not None:
        body["badgeGroupId"] = meta.group_id
    if meta.rank is not None:
        body["badgeRank"] = meta.rank
    return body


def _config_without_secrets(stored: dict[str, Any]) -> dict[str, Any]:
    out = dict(stored)
    out["webhooks"] = [{"url": w["url"]} for w in stored.get("webhooks", [])]
    return out
