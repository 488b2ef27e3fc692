"""Background loops of the workflow feature: run due jobs and expire stale pending requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from foureyes.audit.service import lock_chain
from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.errors import Unavailable
from foureyes.core.logging import get_logger
from foureyes.workflows.executor import Executor, executor_for
from foureyes.workflows.jobs_repository import applied
from foureyes.workflows.models import EXPIRED, PENDING, ExecutionJob, WorkflowRequest
from foureyes.workflows.notify import announce_job, idle, listen_loop, wake_event
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.transitions import announce, config_for, note

log = get_logger("foureyes.worker")


async def job_loop(ctx: AppContext, stop: asyncio.Event) -> None:
    """Claim and run due jobs; when idle, sleep until woken (NOTIFY / local event) or the poll interval passes.

    On stop, in-flight jobs get `worker_grace_seconds` to finish; whatever is still running then is cancelled
    and its lease released (status back to ready, lease cleared) so another worker takes it at once instead
    of waiting for the lease to expire.
    """
    executor = executor_for(ctx)
    listener = asyncio.create_task(listen_loop(ctx, stop))
    stopping = asyncio.create_task(stop.wait())
    current: asyncio.Task[int] | None = None
    try:
        while not stop.is_set():
            wake_event(ctx).clear()
            current = asyncio.create_task(_one_pass(ctx, executor))
            await asyncio.wait({current, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not current.done():
                break
            if current.result() == 0:
                await idle(ctx, stop, ctx.settings.worker_poll_seconds)
    finally:
        stopping.cancel()
        await _shut_down(ctx, executor, current)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def _one_pass(ctx: AppContext, executor: Executor) -> int:
    try:
        return await executor.run_due(limit=ctx.settings.worker_concurrency)
    except Unavailable:
        log.warning("database unavailable; retrying after a pause")
    except Exception:
        log.exception("job loop pass failed; retrying after a pause")
    return 0


async def _shut_down(ctx: AppContext, executor: Executor, current: asyncio.Task[int] | None) -> None:
    """Give in-flight jobs the grace period, then cancel the rest and hand their leases back."""
    in_flight: list[asyncio.Future[object]] = [asyncio.ensure_future(executor.drain())]
    if current is not None and not current.done():
        in_flight.append(current)  # type: ignore[arg-type]
    _, late = await asyncio.wait(in_flight, timeout=ctx.settings.worker_grace_seconds)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    try:
        released = await release_leases(ctx, executor.owner)
    except Exception:
        log.exception("could not release leases; they expire after worker_lease_seconds")
        return
    if released:
        log.warning("released unfinished jobs for other workers", jobs=released)


async def release_leases(ctx: AppContext, owner: str) -> int:
    """Put every job leased by `owner` back to ready now (graceful shutdown; `foureyes` recovery)."""
    now = utcnow()
    async with ctx.db.write() as s:
        result = await s.execute(
            update(ExecutionJob)
            .where(ExecutionJob.status == "leased", ExecutionJob.lease_owner == owner)
            .values(status="ready", lease_owner=None, lease_until=None, next_run_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            await announce_job(s)
    return count


def in_lock_order(rows: Iterable[WorkflowRequest]) -> list[WorkflowRequest]:
    """Rows by ascending org id (then id): the order in which one transaction may lock several orgs' audit heads.

    Two PostgreSQL transactions that each lock heads of orgs 1 and 2, in opposite orders, deadlock; taking them
    in one global order (ascending org id) makes that impossible.
    """
    return sorted(rows, key=lambda row: (row.org_id, row.id))


async def expire_pending(ctx: AppContext) -> int:
    """Move AdminTask requests past their pendingTtlHours to `expired` (one pass)."""
    count = 0
    async with ctx.db.write() as s:
        repo = WorkflowRepository(s)
        for row in in_lock_order(await repo.expire_pending(utcnow())):
            await lock_chain(s, row.org_id)  # the org's audit head first, as in every writing transaction
            values: dict[str, Any] = {"state": EXPIRED, "end_time": utcnow()}
            if not await repo.transition(row.org_id, row.id, from_state=PENDING, version=row.version, values=values):
                continue
            applied(row, {**values, "version": row.version + 1})
            await note(repo, row, EXPIRED, "system:expiry", {})
            await announce(repo, row, await config_for(repo, row, ctx.settings.own_base_url), previous_state=PENDING)
            count += 1
    return count


async def expiry_loop(ctx: AppContext, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await expire_pending(ctx)
            await _update_gauge(ctx)
        except Exception:
            log.exception("expiry pass failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=30)
        except TimeoutError:
            pass


async def _update_gauge(ctx: AppContext) -> None:
    async with ctx.db.read() as s:
        due = await s.scalar(
            select(func.count())
            .select_from(ExecutionJob)
            .where(ExecutionJob.status == "ready", ExecutionJob.next_run_at <= utcnow())
        )
    ctx.metrics.jobs_due.set(int(due or 0))
