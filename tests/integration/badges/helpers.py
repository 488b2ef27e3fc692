"""Shared setup for the badges tests: a tenant, a writer, customers and a live claimed badge."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from foureyes.core.context import AppContext
from foureyes.customers.models import Customer
from tests.factories import Tenant, make_tenant

B = "/api_gateway/v1/badges"
DAY = 86400


async def setup(ctx: AppContext, org_id: int = 100, customers: int = 3, prefix: str = "") -> Tenant:
    """Users `{prefix}writer` (read+write), `{prefix}reader`, `{prefix}nobody`; customers 1..n."""
    tenant = await make_tenant(ctx, org_id)
    await tenant.user(f"{prefix}writer", "BadgesRead", "BadgesWrite")
    await tenant.user(f"{prefix}reader", "BadgesRead")
    await tenant.user(f"{prefix}nobody")
    now = datetime.utcnow()
    async with ctx.db.write() as s:
        for i in range(1, customers + 1):
            s.add(
                Customer(
                    org_id=org_id, id=i, mobile=f"91999000{org_id}{i}", email=f"c{i}@{org_id}.test",
                    external_id=f"ext-{i}", status_label="Active", created_at=now, updated_at=now,
                )
            )  # fmt: skip
    return tenant


def meta_body(name: str = "Five transactions", **over: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "name": name,
        "description": "Make 5 transactions",
        # Never before today's UTC midnight: a start on a past day is refused (722).
        "startOn": max(now - 60, now - now % DAY),
        "expiresOn": now + 30 * DAY,
        "earnType": "EARN",
        "active": True,
        "earnedBadgeExpiry": {"expiryType": "RELATIVE", "relativeExpirytype": "WEEKS", "value": 2},
        "ownership": {"restrictedToOwners": ["Loyalty", "Goodwill_Module"]},
        "customerConstraints": [],
        "badgeConstraints": [],
    }
    body.update(over)
    return body


async def create_badge(
    client: httpx.AsyncClient, tenant: Tenant, *, claim: bool = True, user: str = "writer", **over: Any
) -> dict[str, Any]:
    r = await client.post(f"{B}/badgeMeta", json=meta_body(**over), headers=tenant.headers(user))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    if claim:
        r = await client.post(
            f"{B}/badgeMeta/{data['id']}/claim",
            json={"ownerType": "Loyalty", "referenceId": "626"},
            headers=tenant.headers(user),
        )
        assert r.status_code == 200, r.text
    return data


def earn_body(badge_id: str, customer: Any = 1, request_id: str = "r-1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "badgeMetaId": badge_id,
        "customerId": customer,
        "requestId": request_id,
        "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"},
    }
    body.update(over)
    return body


def codes(response: httpx.Response) -> list[int]:
    return [e["code"] for e in response.json()["errors"]]
