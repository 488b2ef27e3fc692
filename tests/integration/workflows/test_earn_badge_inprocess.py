"""EARN-BADGE against this server's own badges service (in-process transport): dry run, approve, one badge."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from foureyes.badges.models import BadgeEarn
from foureyes.core.context import AppContext
from tests.integration.badges.helpers import create_badge, setup
from tests.integration.workflows.conftest import FAKE_HOST, decision, entity

BASE = "/api_gateway/v2/request-workflow"


async def test_earn_badge_dry_run_then_approve_earns_exactly_once(
    ctx: AppContext, app, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    tenant = await setup(ctx)
    await tenant.user("maker", "CanMakeRequest")
    await tenant.user("checker", "CanCheckRequest")
    await tenant.user("admin", "CanConfigureWorkflows")
    ctx.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    badge = await create_badge(
        client, tenant, customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_VALUE", "maxEarnLimit": 2}]
    )
    r = await client.put(
        f"{BASE}/config/EARN-BADGE",
        headers=tenant.headers("admin"),
        json={"allowedHosts": [FAKE_HOST], "hostRoutes": {FAKE_HOST: "http://testserver"}},
    )
    assert r.status_code == 200, r.text
    writer_auth = tenant.headers("writer")["Authorization"]
    body = {
        "entityInfo": entity(),
        "payload": {
            "IntouchAPITask-Payload": {
                "hostname": FAKE_HOST,
                "path": "/api_gateway/v1/badges/customer/earn",
                "method": "POST",
                "pathParams": {},
                "body": {
                    "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"},
                    "customerId": 1,
                    "requestId": "wf-earn-1",
                    "badgeMetaId": badge["id"],
                },
                "headers": {"Authorization": writer_auth, "content-type": "application/json"},
            }
        },
    }

    missing = {
        **body,
        "payload": {
            "IntouchAPITask-Payload": {
                **body["payload"]["IntouchAPITask-Payload"],
                "body": {**body["payload"]["IntouchAPITask-Payload"]["body"], "customerId": 999},
            }
        },
    }
    refused = await client.post(f"{BASE}/EARN-BADGE", json=missing, headers=tenant.headers("maker"))
    assert refused.status_code == 400, refused.text
    assert any("1026" in e["message"] for e in refused.json()["errors"])

    created = await client.post(f"{BASE}/EARN-BADGE", json=body, headers=tenant.headers("maker"))
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert data["details"]["ValidatePayload_DryRun"]
    assert data["details"]["IntouchAPITask-Payload"]["headers"]["Authorization"] == "Basic ****"

    decided = await client.put(
        f"{BASE}/EARN-BADGE", json=decision(data["requestId"]), headers=tenant.headers("checker")
    )
    assert decided.status_code == 200, decided.text
    result = decided.json()["data"]
    assert result["state"] == "approved", result
    assert result["details"]["IntouchAPITask_Output"]["body"]["data"]["earnedBadgeId"]

    async with ctx.db.read() as s:
        earns = (await s.scalars(select(BadgeEarn).where(BadgeEarn.org_id == tenant.org_id))).all()
    assert [(e.customer_id, e.badge_id) for e in earns] == [(1, badge["id"])]
