"""Background loops of the workflow feature: run due jobs and expire stale pending requests."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.logging import get_logger
from foureyes.workflows.executor import executor_for
from foureyes.workflows.models import EXPIRED, PENDING, ExecutionJob
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.transitions import announce, config_for, note

log = get_logger("foureyes.worker")


async def job_loop(ctx: AppContext, stop: asyncio.Event) -> None:
    """Claim and run due jobs; sleep for the poll interval when there is nothing to do."""
    executor = executor_for(ctx)
    while not stop.is_set():
        try:
            ran = await executor.run_due(limit=ctx.settings.worker_concurrency)
        except Exception:
            log.exception("job loop pass failed; retrying after a pause")
            ran = 0
        if ran == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=ctx.settings.worker_poll_seconds)
            except TimeoutError:
                pass
    await executor.drain()


async def expire_pending(ctx: AppContext) -> int:
    """Move AdminTask requests past their pendingTtlHours to `expired` (one pass)."""
    count = 0
    async with ctx.db.write() as s:
        repo = WorkflowRepository(s)
        for row in await repo.expire_pending(utcnow()):
            if not await repo.transition(
                row.org_id,
                row.id,
                from_state=PENDING,
                version=row.version,
                values={"state": EXPIRED, "end_time": utcnow()},
            ):
                continue
            await s.refresh(row)
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
