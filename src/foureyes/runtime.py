"""Background work of a process: which loops `serve` starts and what `foureyes worker` runs."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from foureyes.core.context import AppContext
from foureyes.core.heap import freeze_startup_objects
from foureyes.core.logging import configure_logging, get_logger
from foureyes.core.settings import Settings

log = get_logger("foureyes.runtime")
Stopper = Callable[[], Awaitable[None]]
Hook = Callable[[AppContext], Awaitable[Stopper | None]]
Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def background_hooks(worker: bool) -> list[Hook]:
    """Hooks for a server process's create_app: the in-process worker when asked for, then the heap freeze."""
    return [start_worker, freeze_heap] if worker else [freeze_heap]


async def freeze_heap(_ctx: AppContext) -> None:
    """Last start-up step of a long-running process: what exists now lives as long as the process, so full
    garbage collections need not walk it again (core/heap.py)."""
    log.info("start-up objects frozen", objects=freeze_startup_objects())


async def start_worker(ctx: AppContext) -> Stopper | None:
    """Start the worker loops in this process; return how to stop them gracefully."""
    for warning in ctx.settings.warnings():
        log.warning("settings", problem=warning)
    loops = _worker_loops(ctx)
    if not loops:
        return None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(loop(stop)) for loop in loops]

    async def _stop() -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    return _stop


def _worker_loops(ctx: AppContext) -> list[Loop]:
    """Every feature's background loop (executor, webhooks, expiry), each taking a stop event."""
    from foureyes.webhooks.delivery import delivery_loop
    from foureyes.webhooks.retention import retention_loop
    from foureyes.workflows.worker import expiry_loop, job_loop

    loops: list[Loop] = [
        lambda stop: job_loop(ctx, stop),
        lambda stop: expiry_loop(ctx, stop),
        lambda stop: delivery_loop(ctx, stop),
        lambda stop: retention_loop(ctx, stop),
    ]
    return loops


async def run_worker_forever(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_json)
    ctx = AppContext.build(settings)
    if settings.worker_metrics_port:
        _serve_metrics(ctx, settings.host, settings.worker_metrics_port)
    stopper = await start_worker(ctx)
    await freeze_heap(ctx)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    log.info("worker started")
    await done.wait()
    log.info("worker stopping")
    if stopper is not None:
        await stopper()
    await ctx.close()


def _serve_metrics(ctx: AppContext, host: str, port: int) -> None:
    """A worker has no API to hang /metrics on: expose its registry from a small HTTP thread instead."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=ctx.metrics.registry)
    log.info("worker metrics", url=f"http://{host}:{port}/metrics")
