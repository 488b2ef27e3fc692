"""Shared pieces of the tenant-file tests: the demo file, counts of rows that must not grow."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from foureyes.audit.models import AuditEvent
from foureyes.core.context import AppContext
from foureyes.demo.banner import demo_tenant
from foureyes.workflows.models import WorkflowConfigRevision


def demo() -> dict[str, Any]:
    return copy.deepcopy(demo_tenant())


def small(org_id: int = 7) -> dict[str, Any]:
    """A compact file exercising every section."""
    return {
        "orgs": [
            {
                "id": org_id,
                "name": "Small",
                "units": [
                    {"kind": "concept", "id": "c1", "children": [
                        {"kind": "zone", "id": "z1", "children": [
                            {"kind": "store", "id": "s1", "children": [{"kind": "till", "id": "t1"}]}]}]}
                ],
                "users": [
                    {"username": f"maker{org_id}", "password": "pw-maker", "kind": "intouch",
                     "permissions": [{"name": "CanMakeRequest", "unit": "s1"}]},
                    {"username": f"till{org_id}", "password": "pw-till", "kind": "till",
                     "permissions": [{"name": "BadgesRead", "unit": None}]},
                ],
                "clients": [{"key": f"key{org_id}", "secret": "pw-client", "permissions": [{"name": "BadgesRead"}]}],
                "customers": [{"id": 11, "mobile": "919000000011"}, {"email": "noid@small.test"}],
                "badges": [
                    {"meta": {"name": "Plain", "startOn": "2024-01-01T00:00:00Z", "expiresOn": "2099-01-01T00:00:00Z",
                              "earnType": "EARN", "earnedBadgeExpiry": {"expiryType": "NEVER"},
                              "ownership": {"restrictedToOwners": ["Loyalty"]},
                              "customerConstraints": [{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW",
                                                       "maxEarnLimit": 2, "durationType": "DAYS", "refreshRate": 7}]},
                     "claims": [{"ownerType": "loyalty", "referenceId": 626}]}
                ],
                "workflows": {"earn-badge": {"allowedHosts": ["http://127.0.0.1:9"],
                                             "webhooks": [{"url": "http://127.0.0.1:9/hook", "secret": "whs"}]}},
            }
        ]
    }  # fmt: skip


async def audit_count(ctx: AppContext) -> int:
    async with ctx.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def revision_count(ctx: AppContext) -> int:
    async with ctx.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(WorkflowConfigRevision)) or 0)
