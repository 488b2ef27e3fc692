"""Round trips of create, decide and execute (issue #7): what each reads once, and what it no longer reads back.

The PUT of an approval answers from the request as its first attempt recorded it, so it must equal what a GET
reads afterwards; the job is committed already leased to the approving process (no claim transaction); a
worker claims with one UPDATE … RETURNING and reads the requests in one SELECT.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from foureyes.core.context import AppContext
from foureyes.workflows.executor import Executor, executor_for
from tests.factories import Tenant
from tests.integration.workflows.conftest import FakeDownstream, body_for, configure, decision, execution_job
from tests.perf.counting import Statements, count_statements

BASE = "/api_gateway/v2/request-workflow"
RTYPE = "GOODWILL-POINTS"


def selects_from(found: Statements, table: str) -> int:
    return sum(sql.startswith("SELECT") and f" FROM {table} " in f"{sql} " for sql in found.sql)


def starting(found: Statements, prefix: str) -> int:
    return sum(sql.startswith(prefix) for sql in found.sql)


async def _create(client: httpx.AsyncClient, tenant: Tenant) -> str:
    r = await client.post(f"{BASE}/{RTYPE}", json=body_for(RTYPE), headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["requestId"])


async def _get(client: httpx.AsyncClient, tenant: Tenant, rid: str) -> dict[str, Any]:
    r = await client.get(f"{BASE}/requests/{rid}", headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


async def test_create_reads_the_config_once_with_the_units(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, RTYPE)
    await _create(client, tenant)  # warm: the org's audit chain, the caller's principal
    with count_statements(ctx) as found:
        await _create(client, tenant)
    assert selects_from(found, "workflow_config_revisions") == 1, str(found)
    config = next(i for i, sql in enumerate(found.sql) if " FROM workflow_config_revisions " in sql)
    # the org units are read right after it, in the same read transaction (no BEGIN between them)
    assert " FROM org_units " in found.sql[config + 1], str(found)
    assert selects_from(found, "workflow_requests") == 0, str(found)
    assert starting(found, "INSERT INTO workflow_request_events") == 1, str(found)


async def test_approval_reads_the_request_once_and_answers_what_it_recorded(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, RTYPE)
    rid = await _create(client, tenant)
    with count_statements(ctx) as found:
        r = await client.put(f"{BASE}/{RTYPE}", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["state"] == "approved", data
    # one joined read of the request and its configuration revision; no refresh, no executor read, no re-read
    assert selects_from(found, "workflow_requests") == 1, str(found)
    assert sum("workflow_config_revisions" in sql for sql in found.sql) == 1, str(found)
    assert sum(sql.startswith("SELECT") and "execution_jobs" in sql for sql in found.sql) == 0, str(found)
    # the job is inserted leased (no claim UPDATE); its outcome is one conditional UPDATE
    assert starting(found, "INSERT INTO execution_jobs") == 1, str(found)
    assert starting(found, "UPDATE execution_jobs") == 1, str(found)
    # decision note; then attempt + approved notes in one statement
    assert starting(found, "INSERT INTO workflow_request_events") == 2, str(found)
    assert data == await _get(client, tenant, rid)
    job = await execution_job(ctx, rid)
    assert (job.status, job.attempts, job.lease_owner, job.lease_until) == ("done", 1, None, None)


async def test_every_decision_answers_what_a_read_shows(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    """Rejected, waiting for a second approval, retry scheduled, failed: the PUT equals a later GET."""
    await configure(client, tenant, RTYPE, requiredApprovals=2)
    rid = await _create(client, tenant)
    first = await client.put(f"{BASE}/{RTYPE}", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert first.json()["data"]["state"] == "AdminTask" and first.json()["data"]["approvals"], first.text
    assert first.json()["data"] == await _get(client, tenant, rid)
    downstream.answers.append((503, {"error": "busy"}))
    second = await client.put(f"{BASE}/{RTYPE}", json=decision(rid), headers=tenant.headers("checker2@demo.test"))
    assert second.json()["data"]["state"] == "IntouchAPITask", second.text
    assert second.json()["data"]["details"]["IntouchAPITask_Retry"]["attempts"] == 1
    assert second.json()["data"] == await _get(client, tenant, rid)

    await configure(client, tenant, RTYPE)
    rejected = await _create(client, tenant)
    r = await client.put(
        f"{BASE}/{RTYPE}", json=decision(rejected, "rejected", "no"), headers=tenant.headers("checker@demo.test")
    )
    assert r.json()["data"]["state"] == "rejected", r.text
    assert r.json()["data"] == await _get(client, tenant, rejected)

    failed = await _create(client, tenant)
    downstream.answers.append((400, {"errors": [{"code": 1, "message": "bad"}]}))
    r = await client.put(f"{BASE}/{RTYPE}", json=decision(failed), headers=tenant.headers("checker@demo.test"))
    assert r.json()["data"]["state"] == "failed" and r.json()["data"]["failureReason"], r.text
    assert r.json()["data"] == await _get(client, tenant, failed)


async def test_the_job_is_committed_leased_to_the_approving_process(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    """A worker cannot take the first attempt from the approval that runs it; it runs exactly once."""
    calls: list[httpx.Request] = []
    # The downstream answers only when the test lets it: a fixed delay here was a race the test could lose on a
    # loaded machine (the attempt finished before the job was read).
    answer = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await answer.wait()
        return httpx.Response(200, json={"data": {"ok": True}, "errors": []})

    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    ctx.settings.decision_wait_seconds = 0.05
    await configure(client, tenant, RTYPE)
    rid = await _create(client, tenant)
    r = await client.put(f"{BASE}/{RTYPE}", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    try:
        assert r.json()["data"]["state"] == "IntouchAPITask", r.text  # answered while the attempt runs
        job = await execution_job(ctx, rid)
        assert (job.status, job.attempts, job.lease_owner) == ("leased", 1, executor_for(ctx).owner)
        assert await Executor(ctx).run_due() == 0  # another worker: the lease is held
    finally:
        answer.set()
    await executor_for(ctx).drain()
    assert (await _get(client, tenant, rid))["state"] == "approved"
    assert len(calls) == 1


async def test_a_worker_claims_with_one_update_and_reads_the_requests_once(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    ctx.settings.decision_wait_seconds = 0  # the API only hands the job over
    await configure(client, tenant, RTYPE)
    rids = [await _create(client, tenant) for _ in range(3)]
    for rid in rids:
        r = await client.put(f"{BASE}/{RTYPE}", json=decision(rid), headers=tenant.headers("checker@demo.test"))
        assert r.json()["data"]["state"] == "IntouchAPITask", r.text
        assert (await execution_job(ctx, rid)).status == "ready"
    with count_statements(ctx) as found:
        assert await executor_for(ctx).run_due() == 3
    assert sum(sql.startswith("SELECT") and "execution_jobs" in sql for sql in found.sql) == 0, str(found)
    assert selects_from(found, "workflow_requests") == 1, str(found)  # the batch's requests and configs
    assert sum("workflow_config_revisions" in sql for sql in found.sql) == 1, str(found)
    assert starting(found, "UPDATE execution_jobs") == 1 + 3, str(found)  # the claim, then one outcome each
    for rid in rids:
        assert (await _get(client, tenant, rid))["state"] == "approved"
        assert (await execution_job(ctx, rid)).attempts == 1
