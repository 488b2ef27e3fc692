"""Waking idle workers when a job is committed, so they need not wait for the next poll.

PostgreSQL: the transaction that commits a job also queues `NOTIFY foureyes_jobs`; every worker process keeps
one dedicated autocommit connection that LISTENs on that channel and sets its process's wake event. SQLite has
no NOTIFY and no second process may write anyway, so the API sets the in-process event after its commit.
Polling stays the fallback either way: a lost notification (listener reconnecting, a NOTIFY from a crashed
transaction) costs at most one poll interval, never a job.
"""

from __future__ import annotations

import asyncio

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.context import AppContext
from foureyes.core.dialect import libpq_url, listen_sql, notify
from foureyes.core.logging import get_logger
from foureyes.workflows.jobs_repository import JobRun
from foureyes.workflows.models import WorkflowRequest

CHANNEL = "foureyes_jobs"
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
log = get_logger("foureyes.notify")


def wake_event(ctx: AppContext) -> asyncio.Event:
    """The process's wake event (created on first use), set whenever new jobs may be due."""
    existing = ctx.extensions.get("job_wake")
    if isinstance(existing, asyncio.Event):
        return existing
    event = asyncio.Event()
    ctx.extensions["job_wake"] = event
    return event


async def announce_job(session: AsyncSession) -> None:
    """Call inside the transaction that adds a job: PostgreSQL delivers the NOTIFY only if it commits."""
    await notify(session, CHANNEL)


async def start_job(ctx: AppContext, run: JobRun | None) -> WorkflowRequest | None:
    """After a job's commit: run its first attempt here when the job was leased to this process, else wake
    this process's worker. The request as the attempt recorded it, or None (the caller reads the request).

    With `decision_wait_seconds` = 0 the API only hands the job over (the workers, woken by NOTIFY, run it),
    which is what a cluster of `serve --no-worker` nodes beside `foureyes worker` processes wants.
    """
    if run is None:
        wake_event(ctx).set()
        return None
    from foureyes.workflows.executor import executor_for

    return await executor_for(ctx).run_soon(run, ctx.settings.decision_wait_seconds)


async def idle(ctx: AppContext, stop: asyncio.Event, timeout: float) -> None:
    """Sleep until a wake-up, a stop request or `timeout` seconds, whichever comes first."""
    wake = wake_event(ctx)
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    wake.clear()


async def listen_loop(ctx: AppContext, stop: asyncio.Event) -> None:
    """PostgreSQL only: relay `NOTIFY foureyes_jobs` to the wake event; reconnects with backoff."""
    if ctx.settings.is_sqlite:
        return
    conninfo = libpq_url(ctx.settings.resolved_database_url)
    failures = 0
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, connect_timeout=5)
            async with conn:
                await conn.execute(listen_sql(CHANNEL))
                failures = 0
                # Jobs committed while we were not listening: look once now rather than at the next poll.
                wake_event(ctx).set()
                while not stop.is_set():
                    async for _ in conn.notifies(timeout=1.0):
                        wake_event(ctx).set()
        except (psycopg.Error, OSError) as exc:
            delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
            failures += 1
            log.warning("job listener disconnected; polling meanwhile", error=type(exc).__name__, retry_in=delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
