"""The downstream misbehaving, played by a real server on 127.0.0.1: errors, flapping, hanging, resets, slowness.

Every case must end in a recorded, honest state (approved, failed, or waiting for a retry), never a lost job,
a double effect or a 500 to the checker.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from foureyes.core.context import AppContext
from foureyes.workflows.executor import executor_for
from foureyes.workflows.models import ExecutionJob, WorkflowRequest
from tests.factories import Tenant
from tests.faults.conftest import approve, raise_request, route_to
from tests.faults.servers import ScriptedServer, Step


async def job_of(ctx: AppContext, request_id: str) -> tuple[WorkflowRequest, ExecutionJob]:
    async with ctx.db.read() as s:
        row = await s.get(WorkflowRequest, request_id)
        job = (await s.execute(ExecutionJob.__table__.select().where(ExecutionJob.request_id == request_id))).one()
    assert row is not None
    return row, job  # type: ignore[return-value]


async def run_until_settled(ctx: AppContext, request_id: str, passes: int = 20) -> WorkflowRequest:
    """Drive the executor like a worker would until the request leaves IntouchAPITask."""
    for _ in range(passes):
        row, _job = await job_of(ctx, request_id)
        if row.state != "IntouchAPITask":
            return row
        await asyncio.sleep(0.05)  # past the (0.01 s-based) backoff
        await executor_for(ctx).run_due()
    return (await job_of(ctx, request_id))[0]


async def test_downstream_500_is_retried_then_fails_with_the_reason(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with ScriptedServer(Step(500, {"error": "boom"})) as server:
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        r = await approve(client, tenant, rid)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["state"] == "IntouchAPITask"  # transient: waiting for a retry, and says so
        assert data["details"]["IntouchAPITask_Retry"]["attempts"] == 1
        row = await run_until_settled(ctx, rid)
        assert row.state == "failed"
        assert "500" in (row.failure_reason or "")
        assert len(server.requests) == 3  # executor_max_attempts
        keys = {h["idempotency-key"] for _, h, _ in server.requests}
        assert keys == {rid}  # every attempt carries the same key
        _, job = await job_of(ctx, rid)
        assert job.status == "failed" and job.lease_owner is None


async def test_downstream_503_then_200_succeeds_on_retry_once(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with ScriptedServer(Step(503, {"error": "busy"}), Step(200)) as server:
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        assert (await approve(client, tenant, rid)).status_code == 200
        row = await run_until_settled(ctx, rid)
        assert row.state == "approved"
        assert row.details["IntouchAPITask_Output"]["status"] == 200
        assert "IntouchAPITask_Retry" not in row.details
        assert len(server.requests) == 2
        _, job = await job_of(ctx, rid)
        assert (job.status, job.attempts) == ("done", 2)


async def test_downstream_hanging_past_the_timeout_is_a_transient_failure_not_a_stuck_request(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with ScriptedServer(Step(action="hang")) as server:
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        started = time.monotonic()
        r = await approve(client, tenant, rid)
        elapsed = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert elapsed < 5, f"the checker waited {elapsed:.1f}s for a 1.5 s timeout"
        row, job = await job_of(ctx, rid)
        assert row.state == "IntouchAPITask"
        assert job.status == "ready" and "timed out" in (job.last_error or "")
        row = await run_until_settled(ctx, rid)
        assert row.state == "failed" and "timed out" in (row.failure_reason or "")


async def test_a_connection_dropped_before_the_answer_is_called_again_at_once(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A keep-alive connection closed by the downstream as we reuse it: the same call again on a fresh
    connection, within the same attempt, instead of a retry after the backoff."""
    async with ScriptedServer(Step(action="close"), Step(200)) as server:
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        r = await approve(client, tenant, rid)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["state"] == "approved"
        assert len(server.requests) == 2
        assert {h["idempotency-key"] for _, h, _ in server.requests} == {rid}
        _, job = await job_of(ctx, rid)
        assert job.status == "done" and job.attempts == 1


async def test_downstream_closing_the_connection_again_is_retried_after_the_backoff(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with ScriptedServer(Step(action="close"), Step(action="close"), Step(200)) as server:
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        r = await approve(client, tenant, rid)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["state"] == "IntouchAPITask"  # the call and its one immediate repeat both dropped
        _, job = await job_of(ctx, rid)
        assert "unreachable" in (job.last_error or "") and job.attempts == 1
        row = await run_until_settled(ctx, rid)
        assert row.state == "approved"
        assert len(server.requests) == 3
        assert {h["idempotency-key"] for _, h, _ in server.requests} == {rid}


async def test_slow_downstream_within_the_timeout_succeeds_once(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with ScriptedServer(Step(200, delay=0.8)) as server:
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        r = await approve(client, tenant, rid)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["state"] == "approved"
        assert len(server.requests) == 1


async def test_redirect_is_not_followed(ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant) -> None:
    """A downstream answering 302 to another host must not make us call that host (SSRF by redirect)."""
    async with (
        ScriptedServer() as elsewhere,
        ScriptedServer(Step(302, {}, headers={"location": f"{elsewhere.base_url}/steal"})) as server,
    ):
        await route_to(client, tenant, server.base_url)
        rid = await raise_request(client, tenant)
        r = await approve(client, tenant, rid)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["state"] == "failed"  # a 3xx is a final, recorded failure
        assert len(server.requests) == 1
        assert elsewhere.requests == []
