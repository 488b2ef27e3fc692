"""requestWorkflowEvent rows in the outbox (documented payload) and every step in the org's audit chain."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, text

from foureyes.audit.models import AuditEvent
from foureyes.audit.service import verify_org
from foureyes.core.context import AppContext
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery
from tests.factories import Tenant
from tests.integration.workflows.conftest import BASIC, FakeDownstream, body_for, configure, decision

BASE = "/api_gateway/v2/request-workflow"
HOOKS: list[dict[str, Any]] = [
    {"url": "https://hooks.example.com/a", "secret": "hook-secret-a"},
    {"url": "https://hooks.example.com/b", "secret": None},
]


async def _events(ctx: AppContext) -> list[OutboxEvent]:
    async with ctx.db.read() as s:
        return list(
            (
                await s.scalars(
                    select(OutboxEvent).where(OutboxEvent.event_name == "requestWorkflowEvent").order_by(OutboxEvent.id)
                )
            ).all()
        )


async def _deliveries(ctx: AppContext) -> list[WebhookDelivery]:
    async with ctx.db.read() as s:
        return list((await s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all())


async def _create(client: httpx.AsyncClient, tenant: Tenant, rtype: str) -> str:
    r = await client.post(f"{BASE}/{rtype}", json=body_for(rtype), headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["requestId"])


def _check_common(event: dict[str, Any], tenant: Tenant, rid: str, rtype_snake: str, state: str) -> dict[str, Any]:
    assert event["eventName"] == "requestWorkflowEvent"
    assert event["orgId"] == tenant.org_id
    assert event["refId"] == f"{tenant.org_id}_{rid}"
    assert isinstance(event["createdAt"], int) and event["createdAt"] > 1_600_000_000_000
    assert event["eventId"] and event["apiRequestId"]
    assert event["loyaltyEventId"] is None
    data: dict[str, Any] = event["data"]
    assert data["requestId"] == rid
    assert data["requestType"] == rtype_snake
    assert data["requesterId"] == tenant.users["maker@demo.test"]
    assert data["currentRequestState"] == state
    assert isinstance(data["updateTime"], int)
    assert set(data["requestAttributes"]) == {"queryParams", "body"}
    return data


async def test_created_approved_rejected_events(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "POINTS-REDEMPTION", webhooks=HOOKS)
    approved_id = await _create(client, tenant, "POINTS-REDEMPTION")
    rejected_id = await _create(client, tenant, "POINTS-REDEMPTION")
    events = await _events(ctx)
    assert len(events) == 2
    pending = _check_common(events[0].payload, tenant, approved_id, "POINTS_REDEMPTION", "AdminTask")
    assert "previousRequestState" not in pending and "checkerId" not in pending
    assert pending["requestAttributes"] == {
        "queryParams": {"skip_validation": "true", "format": "json"},
        "body": body_for("POINTS-REDEMPTION")["payload"]["IntouchAPITask-Payload"]["body"],
    }

    checker = tenant.headers("checker@demo.test")
    await client.put(
        f"{BASE}/POINTS-REDEMPTION", json=decision(approved_id, "approved", "approving it"), headers=checker
    )
    await client.put(f"{BASE}/POINTS-REDEMPTION", json=decision(rejected_id, "rejected", "no"), headers=checker)
    events = await _events(ctx)
    by_state = {(e.payload["data"]["requestId"], e.payload["data"]["currentRequestState"]): e.payload for e in events}
    assert set(by_state) == {
        (approved_id, "AdminTask"),
        (rejected_id, "AdminTask"),
        (approved_id, "approved"),
        (rejected_id, "rejected"),
    }
    for rid, state, comment in ((approved_id, "approved", "approving it"), (rejected_id, "rejected", "no")):
        data = _check_common(by_state[(rid, state)], tenant, rid, "POINTS_REDEMPTION", state)
        assert data["previousRequestState"] == "AdminTask"
        assert data["checkerId"] == tenant.users["checker@demo.test"]
        assert data["comment"] == comment
    # Each event goes to both configured hooks; the secret is stored sealed, never in clear.
    deliveries = await _deliveries(ctx)
    assert len(deliveries) == 2 * len(events)
    assert {d.url for d in deliveries} == {h["url"] for h in HOOKS}
    assert all(d.status == "pending" for d in deliveries)
    sealed = [d.secret_sealed for d in deliveries if d.url.endswith("/a")]
    assert all(s and s != "hook-secret-a" and ctx.secret_box.open(s) == "hook-secret-a" for s in sealed)
    assert all(d.secret_sealed is None for d in deliveries if d.url.endswith("/b"))
    # No credential anywhere in the events.
    async with ctx.db.read() as s:
        raw = repr((await s.execute(text("SELECT payload FROM outbox_events"))).all())
    assert BASIC.split(" ")[1] not in raw and "hook-secret-a" not in raw


async def test_failed_cancelled_expired_and_status_reason(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from foureyes.core.clock import utcnow
    from foureyes.workflows.models import WorkflowRequest
    from foureyes.workflows.worker import expire_pending

    await configure(client, tenant, "CUSTOMER-STATUS-CHANGE", webhooks=HOOKS[:1], pendingTtlHours=1)
    failed = await _create(client, tenant, "CUSTOMER-STATUS-CHANGE")
    cancelled = await _create(client, tenant, "CUSTOMER-STATUS-CHANGE")
    expired = await _create(client, tenant, "CUSTOMER-STATUS-CHANGE")
    downstream.answers.append((404, {"errors": [{"code": 1026, "message": "Customer not found"}]}))
    r = await client.put(
        f"{BASE}/CUSTOMER-STATUS-CHANGE",
        json=decision(failed, "approved", "go"),
        headers=tenant.headers("checker@demo.test"),
    )
    assert r.json()["data"]["state"] == "failed"
    await client.post(
        f"{BASE}/requests/{cancelled}/cancel", json={"reason": "typo"}, headers=tenant.headers("maker@demo.test")
    )
    async with ctx.db.write() as s:
        await s.execute(
            update(WorkflowRequest)
            .where(WorkflowRequest.id == expired)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert await expire_pending(ctx) == 1
    finals = {
        e.payload["data"]["requestId"]: e.payload["data"]
        for e in await _events(ctx)
        if e.payload["data"]["currentRequestState"] != "AdminTask"
    }
    assert finals[failed]["currentRequestState"] == "failed"
    assert finals[failed]["previousRequestState"] == "AdminTask"
    assert finals[failed]["reason"] == "fraud suspected"  # status-change events add the body's reason
    assert finals[cancelled]["currentRequestState"] == "cancelled"
    assert finals[cancelled]["comment"] == "typo"
    assert finals[expired]["currentRequestState"] == "expired"
    assert all(d["requestType"] == "CUSTOMER_STATUS_CHANGE" for d in finals.values())


async def test_auto_approved_request_announces_its_outcome(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", webhooks=HOOKS[:1], autoApprove=True)
    rid = await _create(client, tenant, "GOODWILL-POINTS")
    states = [
        e.payload["data"]["currentRequestState"] for e in await _events(ctx) if e.payload["data"]["requestId"] == rid
    ]
    assert states[-1] == "approved"
    assert "IntouchAPITask" not in states


async def test_no_webhooks_no_deliveries(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    rid = await _create(client, tenant, "GOODWILL-POINTS")
    await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert await _deliveries(ctx) == []


async def test_every_step_is_in_the_audit_chain(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    rid = await _create(client, tenant, "GOODWILL-POINTS")
    downstream.answers.append((503, {}))
    await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(rid, "approved", "fine"), headers=tenant.headers("checker@demo.test")
    )
    from datetime import timedelta

    from sqlalchemy import update

    from foureyes.core.clock import utcnow
    from foureyes.workflows.executor import executor_for
    from foureyes.workflows.models import ExecutionJob

    async with ctx.db.write() as s:
        await s.execute(update(ExecutionJob).values(next_run_at=utcnow() - timedelta(seconds=1)))
    await executor_for(ctx).run_due()
    rejected = await _create(client, tenant, "GOODWILL-POINTS")
    await client.put(
        f"{BASE}/GOODWILL-POINTS",
        json=decision(rejected, "rejected", "no"),
        headers=tenant.headers("checker@demo.test"),
    )
    cancelled = await _create(client, tenant, "GOODWILL-POINTS")
    await client.post(f"{BASE}/requests/{cancelled}/cancel", json={}, headers=tenant.headers("maker@demo.test"))

    async with ctx.db.read() as s:
        rows = list((await s.scalars(select(AuditEvent).where(AuditEvent.org_id == tenant.org_id))).all())
        result = await verify_org(s, tenant.org_id)
    assert result.ok, result.problem
    assert result.events == len(rows)
    trail = [(r.action, r.subject_id, r.actor) for r in rows if r.subject_type == "request"]
    maker = f"user:{tenant.users['maker@demo.test']}"
    checker = f"user:{tenant.users['checker@demo.test']}"
    assert [t for t in trail if t[1] == rid] == [
        ("request.created", rid, maker),
        ("request.decision", rid, checker),
        ("request.attempt", rid, "system:executor"),
        ("request.attempt", rid, "system:executor"),
        ("request.approved", rid, "system:executor"),
    ]
    assert [t[0] for t in trail if t[1] == rejected] == ["request.created", "request.decision"]
    assert [t[0] for t in trail if t[1] == cancelled] == ["request.created", "request.cancelled"]
    assert any(r.action == "workflow.config.changed" for r in rows)
    assert BASIC.split(" ")[1] not in repr([r.data for r in rows])

    # Tampering with one workflow event is detected.
    async with ctx.db.write() as s:
        await s.execute(text("UPDATE audit_events SET actor = 'user:999' WHERE action = 'request.decision'"))
    async with ctx.db.read() as s:
        assert not (await verify_org(s, tenant.org_id)).ok
