"""The durable executor: verdicts, retries with one idempotency key, and a lease taken over after a stall."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.workflows.executor import DROPPED_CONNECTION, Executor, executor_for
from foureyes.workflows.models import ExecutionJob
from tests.factories import Tenant
from tests.integration.workflows.conftest import FakeDownstream, body_for, configure, decision, execution_job

BASE = "/api_gateway/v2/request-workflow"
POINTS_FAILED_WITH_200 = {
    "response": {
        "status": {"success": "false", "code": 500, "message": "All requests have failed due to errors"},
        "responses": {
            "redeem": {
                "points_redeemed": "100",
                "item_status": {"success": "false", "code": 744, "message": "Reference number already exists"},
            }
        },
    }
}


async def _approved(client: httpx.AsyncClient, tenant: Tenant, rtype: str = "GOODWILL-POINTS") -> dict[str, Any]:
    await configure(client, tenant, rtype)
    created = await client.post(f"{BASE}/{rtype}", json=body_for(rtype), headers=tenant.headers("maker@demo.test"))
    assert created.status_code == 200, created.text
    rid = created.json()["data"]["requestId"]
    r = await client.put(f"{BASE}/{rtype}", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


async def _make_due(ctx: AppContext, rid: str) -> None:
    async with ctx.db.write() as s:
        await s.execute(
            update(ExecutionJob)
            .where(ExecutionJob.request_id == rid)
            .values(next_run_at=utcnow() - timedelta(seconds=1))
        )


async def _get(client: httpx.AsyncClient, tenant: Tenant, rid: str) -> dict[str, Any]:
    r = await client.get(f"{BASE}/requests/{rid}?timeline=true", headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def _attempts(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["data"] for e in data["timeline"] if e["kind"] == "attempt"]


async def test_5xx_is_retried_later_with_the_same_key(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    downstream.answers.append((500, {"error": "boom"}))
    data = await _approved(client, tenant)
    rid = data["requestId"]
    assert data["state"] == "IntouchAPITask"
    assert data["endTime"] is None
    assert data["details"]["IntouchAPITask_Output"]["status"] == 500
    assert data["details"]["IntouchAPITask_Retry"]["attempts"] == 1
    job = await execution_job(ctx, rid)
    assert job.status == "ready" and job.next_run_at > utcnow()
    # Not due yet: a worker pass does nothing.
    assert await executor_for(ctx).run_due() == 0
    assert len(downstream.calls) == 1
    await _make_due(ctx, rid)
    assert await executor_for(ctx).run_due() == 1
    final = await _get(client, tenant, rid)
    assert final["state"] == "approved"
    assert final["details"]["IntouchAPITask_Output"]["status"] == 200
    assert "IntouchAPITask_Retry" not in final["details"]
    assert len(downstream.calls) == 2
    keys = {c.headers["Idempotency-Key"] for c in downstream.calls}
    assert keys == {rid}
    assert [(a["attempt"], a["outcome"], a["status"]) for a in _attempts(final)] == [
        (1, "transient", 500),
        (2, "success", 200),
    ]
    assert (await execution_job(ctx, rid)).status == "done"


async def test_badge_retries_reuse_the_body_request_id(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    downstream.answers.append((503, {"error": "busy"}))
    data = await _approved(client, tenant, "EARN-BADGE")
    await _make_due(ctx, data["requestId"])
    await executor_for(ctx).run_due()
    bodies = downstream.bodies()
    assert len(bodies) == 2
    assert {b["requestId"] for b in bodies} == {"0f932928-9878-441c-a78e-c1d32235534q"}
    assert bodies[0] == bodies[1]
    assert (await _get(client, tenant, data["requestId"]))["state"] == "approved"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, POINTS_FAILED_WITH_200, "success:false"),
        (200, {"data": None, "errors": [{"code": 1026, "message": "Customer not found"}], "warnings": []}, "errors"),
        (200, {"success": False}, "success:false"),
        (201, {"items": [{"ok": 1}, {"errors": [{"code": 9}]}]}, "errors"),
        (400, {"errors": [{"code": 1026, "message": "Customer not found"}]}, "400"),
        (404, "not here", "404"),
        (409, {"errors": [{"code": 811, "message": "Badge issue is mandatory before earn"}]}, "409"),
    ],
)
async def test_business_failures_and_4xx_fail_at_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    ctx: AppContext,
    downstream: FakeDownstream,
    status: int,
    body: Any,
    reason: str,
) -> None:
    downstream.answers.append((status, body))
    data = await _approved(client, tenant, "POINTS-REDEMPTION")
    assert data["state"] == "failed"
    assert data["endTime"] is not None
    assert data["details"]["IntouchAPITask_Output"]["status"] == status
    assert data["details"]["IntouchAPITask_Output"]["body"] == body
    assert reason in data["failureReason"]
    assert len(downstream.calls) == 1
    job = await execution_job(ctx, data["requestId"])
    assert job.status == "failed"
    await _make_due(ctx, data["requestId"])
    assert await executor_for(ctx).run_due() == 0
    assert len(downstream.calls) == 1


async def test_809_with_original_counts_as_success(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    original = {"badgeMetaId": "658c50761c4c2b12732c3ec6", "customerId": 382477526, "earnedBadgeId": "e1"}
    downstream.answers.append(
        (
            400,
            {"data": original, "errors": [{"code": 809, "message": "Request with the same requestId is not allowed"}]},
        )
    )
    data = await _approved(client, tenant, "EARN-BADGE")
    assert data["state"] == "approved"
    assert data["details"]["IntouchAPITask_Output"]["body"]["data"] == original


async def test_809_without_original_is_a_failure(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    downstream.answers.append((400, {"data": None, "errors": [{"code": 809, "message": "duplicate"}]}))
    data = await _approved(client, tenant, "EARN-BADGE")
    assert data["state"] == "failed"


@pytest.mark.parametrize(
    "problem",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.RemoteProtocolError("eof"),
    ],
    ids=["connect", "read-timeout", "connect-timeout", "protocol"],
)
async def test_transient_until_max_attempts_then_failed(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream, problem: Exception
) -> None:
    ctx.settings.executor_max_attempts = 3
    dropped = isinstance(problem, DROPPED_CONNECTION)  # such a call is made once more at once, in its attempt
    for answer in [(0, problem), (502, {"e": 1}), (0, problem)]:
        downstream.answers.extend([(0, problem), answer] if dropped else [answer])
    downstream.answers.append((200, {"never": "reached"}))
    data = await _approved(client, tenant)
    rid = data["requestId"]
    assert data["state"] == "IntouchAPITask"
    assert data["details"]["IntouchAPITask_Output"]["status"] is None
    for _ in range(2):
        await _make_due(ctx, rid)
        assert await executor_for(ctx).run_due() == 1
    final = await _get(client, tenant, rid)
    assert final["state"] == "failed"
    assert len(downstream.calls) == (6 if dropped else 3)
    attempts = _attempts(final)
    assert [a["outcome"] for a in attempts] == ["transient"] * 3
    assert [a["final"] for a in attempts] == [False, False, True]
    assert (await execution_job(ctx, rid)).status == "failed"
    await _make_due(ctx, rid)
    assert await executor_for(ctx).run_due() == 0


async def test_backoff_grows(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    downstream.answers.extend([(500, {})] * 3)
    data = await _approved(client, tenant)
    rid = data["requestId"]
    gaps = []
    for _ in range(2):
        job = await execution_job(ctx, rid)
        gaps.append((job.next_run_at - job.updated_at).total_seconds())
        await _make_due(ctx, rid)
        await executor_for(ctx).run_due()
    base = ctx.settings.executor_base_backoff_seconds
    assert base * 0.5 <= gaps[0] <= base * 1.5
    assert base * 1.0 <= gaps[1] <= base * 3.0


class StallingDownstream:
    """Applies the effect once per Idempotency-Key; the first call applies it and then hangs."""

    def __init__(self) -> None:
        self.effects: dict[str, int] = {}
        self.calls = 0
        self.release = asyncio.Event()
        self.first_applied = asyncio.Event()

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        key = request.headers["Idempotency-Key"]
        if key not in self.effects:
            self.effects[key] = len(self.effects) + 1
            if self.calls == 1:
                self.first_applied.set()
                await self.release.wait()
                raise httpx.ReadTimeout("the first worker never heard back")
        return httpx.Response(201, json={"createdId": self.effects[key], "warnings": []})


async def test_expired_lease_is_taken_over_with_one_effect(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    fake = StallingDownstream()
    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    ctx.settings.decision_wait_seconds = 0.2
    ctx.settings.worker_lease_seconds = 60
    data = await _approved(client, tenant)
    rid = data["requestId"]
    assert data["state"] == "IntouchAPITask"  # the first attempt is still in flight
    await asyncio.wait_for(fake.first_applied.wait(), 5)
    job = await execution_job(ctx, rid)
    assert job.status == "leased" and job.lease_owner == executor_for(ctx).owner
    # Another process would see a live lease and leave the job alone.
    other = Executor(ctx)
    assert await other.run_due() == 0
    # The lease runs out (the first worker is presumed dead): the other executor takes the job over.
    async with ctx.db.write() as s:
        await s.execute(
            update(ExecutionJob)
            .where(ExecutionJob.request_id == rid)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert await other.run_due() == 1
    final = await _get(client, tenant, rid)
    assert final["state"] == "approved"
    # The stalled first worker wakes up: it no longer holds the lease, so it records nothing.
    fake.release.set()
    await executor_for(ctx).drain()
    again = await _get(client, tenant, rid)
    assert again["state"] == "approved"
    assert again["details"] == final["details"]
    assert fake.effects == {rid: 1}
    assert fake.calls == 2
    assert len(_attempts(again)) == 1
    await ctx.http.aclose()


async def test_job_commits_with_the_approval(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    """No job before approval; the approval commits one (key = requestId) that a worker pass then runs."""
    await configure(client, tenant, "GOODWILL-POINTS")
    created = await client.post(
        f"{BASE}/GOODWILL-POINTS", json=body_for("GOODWILL-POINTS"), headers=tenant.headers("maker@demo.test")
    )
    rid = created.json()["data"]["requestId"]
    async with ctx.db.read() as s:
        assert await s.scalar(select(ExecutionJob).where(ExecutionJob.request_id == rid)) is None
    assert await executor_for(ctx).run_due() == 0
    downstream.answers.append((0, httpx.ConnectError("down")))
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert r.json()["data"]["state"] == "IntouchAPITask"
    job = await execution_job(ctx, rid)
    assert job.idempotency_key == rid
    assert job.attempts == 1 and job.status == "ready"
    await _make_due(ctx, rid)
    assert await executor_for(ctx).run_due() == 1
    assert (await _get(client, tenant, rid))["state"] == "approved"


async def test_decision_answers_the_attempt_even_when_the_worker_claims_it(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    """With the in-process worker running (as in `foureyes serve`), the worker woken by the approval may claim
    the job before the approving request does; the PUT must still answer the state after the first attempt."""
    from foureyes.runtime import start_worker

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(201, json={"createdId": 1, "warnings": []})

    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    await configure(client, tenant, "GOODWILL-POINTS")
    stop = await start_worker(ctx)
    try:
        for _ in range(6):
            created = await client.post(
                f"{BASE}/GOODWILL-POINTS", json=body_for("GOODWILL-POINTS"), headers=tenant.headers("maker@demo.test")
            )
            rid = created.json()["data"]["requestId"]
            r = await client.put(
                f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test")
            )
            assert r.json()["data"]["state"] == "approved", r.json()["data"]["details"]
    finally:
        if stop is not None:
            await stop()
