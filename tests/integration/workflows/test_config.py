"""Contract §6: the versioned configuration, auto-approval, N approvals, cancel and expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.workflows.models import WorkflowRequest
from foureyes.workflows.worker import expire_pending
from tests.factories import STORE, Tenant
from tests.integration.workflows.conftest import FAKE_HOST, FakeDownstream, body_for, configure, decision

BASE = "/api_gateway/v2/request-workflow"
CONFIG = f"{BASE}/config"


async def _create(
    client: httpx.AsyncClient, tenant: Tenant, points: int = 50, maker: str = "maker@demo.test"
) -> dict[str, Any]:
    body = body_for("GOODWILL-POINTS")
    body["payload"]["IntouchAPITask-Payload"]["body"]["points"] = points
    r = await client.post(f"{BASE}/GOODWILL-POINTS", json=body, headers=tenant.headers(maker))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


async def test_config_needs_org_wide_configure_permission(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("storeadmin@demo.test", f"CanConfigureWorkflows@{STORE}")
    for user in ("maker@demo.test", "checker@demo.test", "nobody@demo.test", "storeadmin@demo.test"):
        r = await client.get(f"{CONFIG}/GOODWILL-POINTS", headers=tenant.headers(user))
        assert r.status_code == 403, user
        assert r.json()["errors"][0]["code"] == 2001
        r = await client.put(f"{CONFIG}/GOODWILL-POINTS", json={"autoApprove": True}, headers=tenant.headers(user))
        assert r.status_code == 403, user
    r = await client.get(f"{CONFIG}/NOPE", headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 2009


async def test_defaults_revisions_and_history(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    admin = tenant.headers("admin@demo.test")
    r = await client.get(f"{CONFIG}/GOODWILL-POINTS", headers=admin)
    assert r.status_code == 200, r.text
    default = r.json()["data"]
    assert default["revision"] == 0
    assert default["config"]["allowedHosts"] == [ctx.settings.own_base_url]
    assert default["config"]["autoApprove"] is False and default["config"]["requiredApprovals"] == 1
    assert default["config"]["makerCanCheck"] is False and default["config"]["pendingTtlHours"] is None

    first = await configure(client, tenant, "GOODWILL-POINTS")
    assert first["revision"] == 1 and first["createdBy"]
    created_1 = await _create(client, tenant)
    assert created_1["configRevision"] == 1
    same = await configure(client, tenant, "GOODWILL-POINTS")
    assert same["revision"] == 1  # nothing changed, no new revision
    second = await configure(
        client,
        tenant,
        "GOODWILL-POINTS",
        makerCanCheck=True,
        webhooks=[{"url": "https://hooks.example.com/x", "secret": "s3cr3t"}],
    )
    assert second["revision"] == 2
    assert second["config"]["webhooks"] == [{"url": "https://hooks.example.com/x", "secret": "****"}]
    created_2 = await _create(client, tenant)
    assert created_2["configRevision"] == 2
    got = await client.get(f"{CONFIG}/GOODWILL-POINTS?history=true", headers=admin)
    data = got.json()["data"]
    assert data["revision"] == 2
    assert [h["revision"] for h in data["history"]] == [2, 1]
    assert "s3cr3t" not in got.text
    # Sending the mask back keeps the stored secret: no new revision.
    again = await configure(
        client,
        tenant,
        "GOODWILL-POINTS",
        makerCanCheck=True,
        webhooks=[{"url": "https://hooks.example.com/x", "secret": "****"}],
    )
    assert again["revision"] == 2
    # Types are configured independently.
    other = await client.get(f"{CONFIG}/EARN-BADGE", headers=admin)
    assert other.json()["data"]["revision"] == 0


@pytest.mark.parametrize(
    "config",
    [
        {"requiredApprovals": 0},
        {"allowedHosts": ["https://user:pw@x.example.com"]},
        {"allowedHosts": ["https://x.example.com/path"]},
        {"autoApproveRules": [{"path": "body.points", "op": "~", "value": 1}]},
        {"webhooks": [{"url": "ftp://x"}]},
        # Refused by the same check as org webhook subscriptions (webhooks/urls.py), not only by scheme:
        {"webhooks": [{"url": "https://hooks.example.com/x y"}]},
        {"webhooks": [{"url": "https:///no-host"}]},
        {"webhooks": [{"url": "https://hooks.example.com:0/x"}]},
        {"webhooks": [{"url": "https://hooks.example.com/x#frag"}]},
        {"pendingTtlHours": -1},
        {"surprise": True},
        {"hostRoutes": {"https://x.example.com": "not a url"}},
    ],
)
async def test_bad_configs_are_400(client: httpx.AsyncClient, tenant: Tenant, config: dict[str, Any]) -> None:
    r = await client.put(f"{CONFIG}/GOODWILL-POINTS", json=config, headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 400, r.text
    assert r.json()["data"] is None


async def test_auto_approve_answers_the_final_state(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", autoApprove=True)
    data = await _create(client, tenant)
    assert data["state"] == "approved"
    assert data["endTime"] is not None
    assert data["details"]["AutoApproved"] is True
    assert data["details"]["IntouchAPITask_Output"]["status"] == 200
    assert len(downstream.calls) == 1


async def test_disabled_type_refuses_creates(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", enabled=False)
    r = await client.post(
        f"{BASE}/GOODWILL-POINTS", json=body_for("GOODWILL-POINTS"), headers=tenant.headers("maker@demo.test")
    )
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 2021


async def test_points_rule_auto_approves_small_amounts_only(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(
        client, tenant, "GOODWILL-POINTS", autoApproveRules=[{"path": "body.points", "op": "<=", "value": 100}]
    )
    small = await _create(client, tenant, points=50)
    assert small["state"] == "approved"
    edge = await _create(client, tenant, points=100)
    assert edge["state"] == "approved"
    big = await _create(client, tenant, points=500)
    assert big["state"] == "AdminTask"
    assert len(downstream.calls) == 2
    assert [b["points"] for b in downstream.bodies()] == [50, 100]


async def test_two_approvals_need_two_distinct_checkers(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", requiredApprovals=2)
    rid = (await _create(client, tenant))["requestId"]
    first = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert first.status_code == 200, first.text
    assert first.json()["data"]["state"] == "AdminTask"
    assert len(first.json()["data"]["approvals"]) == 1
    assert downstream.calls == []
    twice = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert twice.status_code == 409 and twice.json()["errors"][0]["code"] == 2002
    assert downstream.calls == []
    second = await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker2@demo.test")
    )
    assert second.status_code == 200, second.text
    data = second.json()["data"]
    assert data["state"] == "approved"
    assert [a["checkerId"] for a in data["approvals"]] == [
        tenant.users["checker@demo.test"],
        tenant.users["checker2@demo.test"],
    ]
    assert len(downstream.calls) == 1


async def test_one_rejection_ends_a_multi_approval_request(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", requiredApprovals=3)
    rid = (await _create(client, tenant))["requestId"]
    await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    r = await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(rid, "rejected"), headers=tenant.headers("checker2@demo.test")
    )
    assert r.json()["data"]["state"] == "rejected"
    assert downstream.calls == []


async def test_cancel_by_maker_only_while_pending(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    rid = (await _create(client, tenant))["requestId"]
    for user in ("checker@demo.test", "admin@demo.test"):
        r = await client.post(f"{BASE}/requests/{rid}/cancel", json={"reason": "x"}, headers=tenant.headers(user))
        assert r.status_code == 403, user
    r = await client.post(
        f"{BASE}/requests/{rid}/cancel", json={"reason": "typo"}, headers=tenant.headers("maker@demo.test")
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["state"] == "cancelled" and data["endTime"] is not None
    # Terminal: no decision, no second cancel.
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == 2002
    r = await client.post(f"{BASE}/requests/{rid}/cancel", json={}, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 409
    assert downstream.calls == []
    # An approved request cannot be cancelled either.
    rid2 = (await _create(client, tenant))["requestId"]
    await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid2), headers=tenant.headers("checker@demo.test"))
    r = await client.post(f"{BASE}/requests/{rid2}/cancel", json={}, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 409
    r = await client.post(f"{BASE}/requests/unknown/cancel", json={}, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 404
    got = await client.get(f"{BASE}/requests/{rid}", headers=tenant.headers("maker@demo.test"))
    assert got.json()["data"]["state"] == "cancelled"


async def _age(ctx: AppContext, rid: str) -> None:
    async with ctx.db.write() as s:
        await s.execute(
            update(WorkflowRequest).where(WorkflowRequest.id == rid).values(expires_at=utcnow() - timedelta(minutes=1))
        )


async def test_pending_requests_expire(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", pendingTtlHours=2)
    old = (await _create(client, tenant))["requestId"]
    fresh = (await _create(client, tenant))["requestId"]
    await _age(ctx, old)
    # Past its deadline but not yet swept: a decision is already refused.
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(old), headers=tenant.headers("checker@demo.test"))
    assert r.status_code == 409
    assert await expire_pending(ctx) == 1
    assert await expire_pending(ctx) == 0
    admin = tenant.headers("admin@demo.test")
    data = (await client.get(f"{BASE}/requests/{old}", headers=admin)).json()["data"]
    assert data["state"] == "expired" and data["endTime"] is not None
    assert (await client.get(f"{BASE}/requests/{fresh}", headers=admin)).json()["data"]["state"] == "AdminTask"
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(old), headers=tenant.headers("checker@demo.test"))
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == 2002
    r = await client.post(f"{BASE}/requests/{old}/cancel", json={}, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 409
    assert downstream.calls == []


async def test_no_ttl_never_expires(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    rid = (await _create(client, tenant))["requestId"]
    assert await expire_pending(ctx) == 0
    got = await client.get(f"{BASE}/requests/{rid}", headers=tenant.headers("admin@demo.test"))
    assert got.json()["data"]["state"] == "AdminTask"


async def test_host_removed_from_config_still_executes_requests_made_before(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    """A request runs under the revision it was created with; new creates follow the new one."""
    await configure(client, tenant, "GOODWILL-POINTS")
    rid = (await _create(client, tenant))["requestId"]
    await configure(client, tenant, "GOODWILL-POINTS", allowedHosts=["https://elsewhere.example.com"])
    r = await client.post(
        f"{BASE}/GOODWILL-POINTS",
        json=body_for("GOODWILL-POINTS", host=FAKE_HOST),
        headers=tenant.headers("maker@demo.test"),
    )
    assert r.status_code == 400
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert r.json()["data"]["state"] == "approved"
