"""Org-level subscriptions and the deliveries view over HTTP: sealed secrets, masking, audit, isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from foureyes.audit.models import AuditEvent
from foureyes.core.clock import FrozenClock
from foureyes.core.context import AppContext
from foureyes.webhooks.delivery import deliver_due
from foureyes.webhooks.models import WebhookSubscription
from foureyes.webhooks.outbox import enqueue_event
from tests.factories import Tenant, basic, make_tenant
from tests.integration.webhooks.receiver import Receiver

PATH = "/api_gateway/v2/webhooks"
SECRET = "a-long-enough-secret"


def body(url: str, secret: str = SECRET, events: list[str] | None = None) -> dict[str, Any]:
    return {"subscriptions": [{"url": url, "secret": secret, "events": ["badgeEarned"] if events is None else events}]}


async def test_put_seals_masks_and_audits(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    res = await client.put(PATH, json=body("https://hooks.example.com/a"), headers=tenant.headers("config"))
    assert res.status_code == 200, res.text
    [sub] = res.json()["data"]["subscriptions"]
    assert sub["secret"] == "****" and sub["url"] == "https://hooks.example.com/a"
    assert sub["events"] == ["badgeEarned"]
    got = await client.get(PATH, headers=tenant.headers("config"))
    assert got.json()["data"]["subscriptions"][0]["secret"] == "****"
    assert SECRET not in got.text
    async with ctx.db.read() as s:
        row = (await s.scalars(select(WebhookSubscription))).one()
        actions = list(await s.scalars(select(AuditEvent.action).where(AuditEvent.org_id == 100)))
        audit_data = [e.data for e in await s.scalars(select(AuditEvent).where(AuditEvent.org_id == 100))]
    assert row.secret_sealed and SECRET not in row.secret_sealed
    assert ctx.secret_box.open(row.secret_sealed) == SECRET
    assert "webhooks.subscriptions_replaced" in actions
    assert SECRET not in str(audit_data)


async def test_masked_secret_keeps_the_stored_one(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    headers = tenant.headers("config")
    await client.put(PATH, json=body("https://hooks.example.com/a"), headers=headers)
    again = await client.put(
        PATH, json=body("https://hooks.example.com/a", "****", ["badgeEarned", "requestWorkflowEvent"]), headers=headers
    )
    assert again.status_code == 200
    async with ctx.db.read() as s:
        row = (await s.scalars(select(WebhookSubscription))).one()
    assert ctx.secret_box.open(row.secret_sealed or "") == SECRET
    assert row.events == ["badgeEarned", "requestWorkflowEvent"]
    new_url = await client.put(PATH, json=body("https://hooks.example.com/b", "****"), headers=headers)
    assert new_url.status_code == 400
    assert new_url.json()["errors"][0]["reference"] == "subscriptions.0.secret"


async def test_empty_list_removes_all(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers("config")
    await client.put(PATH, json=body("https://hooks.example.com/a"), headers=headers)
    assert (await client.put(PATH, json={"subscriptions": []}, headers=headers)).status_code == 200
    assert (await client.get(PATH, headers=headers)).json()["data"]["subscriptions"] == []


@pytest.mark.parametrize(
    "payload",
    [
        body("ftp://example.com/"),
        body("https://user:pw@example.com/"),
        body("javascript:alert(1)"),
        body("https://example.com/", events=["everything"]),
        body("https://example.com/", events=[]),
        body("https://example.com/", secret=""),
        {"subscriptions": [{"url": "https://example.com/", "secret": SECRET, "events": ["badgeEarned"], "x": 1}]},
        {"subscriptions": "nope"},
        {"subscriptions": [body("https://example.com/")["subscriptions"][0]] * 21},
        [],
        None,
    ],
)
async def test_hostile_bodies_are_400_2008(client: httpx.AsyncClient, tenant: Tenant, payload: Any) -> None:
    res = await client.put(PATH, json=payload, headers=tenant.headers("config"))
    assert res.status_code == 400, res.text
    assert res.json()["errors"][0]["code"] == 2008
    assert res.json()["data"] is None


async def test_malformed_json_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {**tenant.headers("config"), "Content-Type": "application/json"}
    res = await client.put(PATH, content=b"{not json", headers=headers)
    assert res.status_code == 400


async def test_permission_and_org_header_rules(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await client.get(PATH, headers=tenant.headers("maker"))).status_code == 403
    put = await client.put(PATH, json=body("https://example.com/"), headers=tenant.headers("maker"))
    assert put.status_code == 403
    assert (await client.get(f"{PATH}/deliveries", headers=tenant.headers("maker"))).status_code == 403
    missing = await client.get(PATH, headers=basic("config"))
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (400, 2026)
    wrong = await client.get(PATH, headers={**basic("config"), "X-CAP-API-AUTH-ORG-ID": "7"})
    assert (wrong.status_code, wrong.json()["errors"][0]["code"]) == (403, 2001)
    assert (await client.get(PATH)).status_code == 401


async def test_subscription_receives_badge_earned_and_deliveries_are_listed(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    headers = tenant.headers("config")
    await client.put(PATH, json=body(receiver.url), headers=headers)
    async with ctx.db.write() as s:
        await enqueue_event(s, org_id=100, event_name="badgeEarned", payload={"data": {"customerId": 1}})
        await enqueue_event(s, org_id=100, event_name="requestWorkflowEvent", payload={"data": {}})
    assert await deliver_due(ctx) == 1  # only the subscribed event has a target
    assert receiver.requests[0].headers["x-foureyes-event"] == "badgeEarned"
    listed = await client.get(f"{PATH}/deliveries", headers=headers)
    assert listed.status_code == 200
    [item] = listed.json()["data"]
    assert (item["status"], item["eventName"], item["attempts"], item["lastStatus"]) == (
        "delivered",
        "badgeEarned",
        1,
        200,
    )
    assert (await client.get(f"{PATH}/deliveries?status=failed", headers=headers)).json()["data"] == []
    assert len((await client.get(f"{PATH}/deliveries?status=delivered", headers=headers)).json()["data"]) == 1
    bad = await client.get(f"{PATH}/deliveries?status=lost", headers=headers)
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (400, 2008)
    assert (await client.get(f"{PATH}/deliveries?limit=0", headers=headers)).status_code == 400
    assert (await client.get(f"{PATH}/deliveries?limit=500", headers=headers)).status_code == 400


async def test_orgs_are_isolated(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    other = await make_tenant(ctx, 200, "Other", second_store=False)
    await other.user("other-config", "CanConfigureWorkflows")
    await client.put(PATH, json=body(receiver.url), headers=tenant.headers("config"))
    async with ctx.db.write() as s:
        await enqueue_event(s, org_id=100, event_name="badgeEarned", payload={"data": {}})
        # The other org has no subscription: its event has no delivery at all.
        await enqueue_event(s, org_id=200, event_name="badgeEarned", payload={"data": {}})
    assert await deliver_due(ctx) == 1
    theirs = other.headers("other-config")
    assert (await client.get(PATH, headers=theirs)).json()["data"]["subscriptions"] == []
    assert (await client.get(f"{PATH}/deliveries", headers=theirs)).json()["data"] == []
    await client.put(PATH, json={"subscriptions": []}, headers=theirs)
    ours = await client.get(PATH, headers=tenant.headers("config"))
    assert len(ours.json()["data"]["subscriptions"]) == 1
