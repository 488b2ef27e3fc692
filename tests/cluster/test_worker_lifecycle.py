"""Worker wake-ups and graceful shutdown, in-process on both stores.

PostgreSQL: the worker runs on its own AppContext (its own pool, wake event and executor, as in a separate
`foureyes worker` process), so only `NOTIFY foureyes_jobs` can wake it before its 30 s poll. SQLite: one
process, so the worker shares the API's context and is woken by the in-process event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from foureyes.core.context import AppContext
from foureyes.workflows.models import ExecutionJob, WorkflowRequest
from foureyes.workflows.worker import job_loop
from tests.cluster.conftest import BASE, hanging, ok, until, with_downstream
from tests.factories import Tenant
from tests.integration.workflows.conftest import decision, goodwill_body


@pytest.fixture
async def worker_ctx(ctx: AppContext, store: str) -> AsyncIterator[AppContext]:
    if store == "sqlite":
        yield ctx
        return
    other = AppContext.build(ctx.settings)
    yield other
    await other.close()


async def raise_and_approve(client: httpx.AsyncClient, tenant: Tenant) -> str:
    created = await client.post(f"{BASE}/GOODWILL-POINTS", json=goodwill_body(), headers=tenant.headers("maker"))
    assert created.status_code == 200, created.text
    request_id = str(created.json()["data"]["requestId"])
    decided = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(request_id), headers=tenant.headers("checker"))
    assert decided.status_code == 200, decided.text
    # decision_wait_seconds=0: the API hands the job over and answers while it is still executing.
    assert decided.json()["data"]["state"] == "IntouchAPITask"
    return request_id


async def state_of(ctx: AppContext, request_id: str) -> tuple[str, ExecutionJob]:
    async with ctx.db.read() as s:
        row = await s.get(WorkflowRequest, request_id)
        job = (await s.execute(ExecutionJob.__table__.select().where(ExecutionJob.request_id == request_id))).one()
    assert row is not None
    return row.state, job  # type: ignore[return-value]


async def test_new_job_wakes_an_idle_worker_long_before_its_poll(
    ctx: AppContext, worker_ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    calls = with_downstream(worker_ctx, ok)
    stop = asyncio.Event()
    loop = asyncio.create_task(job_loop(worker_ctx, stop))
    try:
        await asyncio.sleep(1.0)  # the worker has found nothing and is idle (next poll in 30 s)
        request_id = await raise_and_approve(client, tenant)

        async def approved() -> bool:
            return (await state_of(ctx, request_id))[0] == "approved"

        assert await until(approved, timeout=8), "the idle worker was not woken by the new job"
        assert len(calls) == 1
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)


async def test_sigterm_releases_the_lease_of_a_job_still_running_after_the_grace_period(
    ctx: AppContext, worker_ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    release = asyncio.Event()
    calls = with_downstream(worker_ctx, hanging(release))
    stop = asyncio.Event()
    loop = asyncio.create_task(job_loop(worker_ctx, stop))
    request_id = await raise_and_approve(client, tenant)
    assert await until(lambda: _called(calls)), "the worker never started the job"
    assert (await state_of(ctx, request_id))[1].status == "leased"

    stop.set()  # what SIGTERM does in `foureyes worker`
    await asyncio.wait_for(loop, 5)  # grace 0.5 s, then cancel + release: well before the 60 s lease

    state, job = await state_of(ctx, request_id)
    assert state == "IntouchAPITask"
    assert (job.status, job.lease_owner, job.lease_until) == ("ready", None, None)

    # Another worker takes it at once (no lease to wait out) and records the outcome exactly once.
    successor = AppContext.build(ctx.settings)
    try:
        with_downstream(successor, ok)
        stop2 = asyncio.Event()
        loop2 = asyncio.create_task(job_loop(successor, stop2))

        async def approved() -> bool:
            return (await state_of(ctx, request_id))[0] == "approved"

        assert await until(approved, timeout=8)
        stop2.set()
        await asyncio.wait_for(loop2, 10)
    finally:
        release.set()
        await successor.close()
    assert (await state_of(ctx, request_id))[1].status == "done"


async def test_sigterm_lets_an_in_flight_job_finish_within_the_grace_period(
    ctx: AppContext, worker_ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    worker_ctx.settings.worker_grace_seconds = 10
    release = asyncio.Event()
    calls = with_downstream(worker_ctx, hanging(release))
    stop = asyncio.Event()
    loop = asyncio.create_task(job_loop(worker_ctx, stop))
    request_id = await raise_and_approve(client, tenant)
    assert await until(lambda: _called(calls))
    stop.set()
    await asyncio.sleep(0.3)
    assert not loop.done(), "the worker left before its in-flight job finished"
    release.set()
    await asyncio.wait_for(loop, 10)
    state, job = await state_of(ctx, request_id)
    assert (state, job.status) == ("approved", "done")
    assert len(calls) == 1


async def _called(calls: list[httpx.Request]) -> bool:
    return bool(calls)
