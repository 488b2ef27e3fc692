"""(b) End-to-end workflows per second: create → approve → downstream badge earn over HTTP → `approved`.

    python -m benchmarks.bench_e2e --store sqlite|postgresql [--duration 30] [--concurrency 16] [--plot]

Each of `concurrency` clients raises an EARN-BADGE request as the maker, approves it as the checker, and
waits until the request is `approved`: the approval's PUT answers after the first execution attempt (the
executor calls POST /api_gateway/v1/badges/customer/earn on this same server over real HTTP), and when it
does not answer `approved` the client polls GET …/requests/{id} every 5 ms. Latency is measured from sending
the approval to seeing `approved`. The server's RSS is sampled every `--rss-every` seconds (memory flat?).
At the end every approved workflow must have exactly one earned badge.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from benchmarks.common import (
    ROOT,
    WF,
    Report,
    Store,
    approve_body,
    arguments,
    cpu_seconds,
    earn_badge_body,
    earn_badge_server,
    headers,
    percentile,
    profiling,
    rss_kib,
    run,
    scratch_store,
)
from benchmarks.loadgen import closed_loop, expect_ok

CUSTOMERS = 20000


class Workflow:
    """One EARN-BADGE workflow per call: create (maker) → approve (checker) → `approved`.

    When the approval's PUT answers before `approved`, GET …/requests/{id} is polled every 5 ms. Each workflow's
    approval → `approved` time is kept in `approval_ms`; `polled` counts the polls.
    """

    def __init__(self, badge: str) -> None:
        self.badge = badge
        self.run_id = uuid.uuid4().hex[:8]
        self.serial = itertools.count()
        self.approval_ms: list[float] = []
        self.polled = 0

    def reset(self) -> None:
        """Forget what was measured so far."""
        self.approval_ms.clear()
        self.polled = 0

    def warm_up(self, base_url: str) -> int:
        """Two clients for two seconds (imports, pools, caches), then forget the figures; the workflows finished."""
        finished = run(closed_loop(base_url, 2, 2.0, self)).ok
        self.reset()
        return finished

    async def __call__(self, client: httpx.AsyncClient, worker: int, seq: int) -> None:
        customer = 1 + (worker * 100003 + seq) % CUSTOMERS
        body = earn_badge_body(self.badge, customer, f"{self.run_id}-{next(self.serial)}")
        created = expect_ok(await client.post(f"{WF}/EARN-BADGE", json=body, headers=headers("maker")))
        rid = created["data"]["requestId"]
        t0 = time.perf_counter()
        decided = expect_ok(await client.put(f"{WF}/EARN-BADGE", json=approve_body(rid), headers=headers("checker")))
        state = decided["data"]["state"]
        while state == "IntouchAPITask":
            self.polled += 1
            await asyncio.sleep(0.005)
            got = expect_ok(await client.get(f"{WF}/requests/{rid}", headers=headers("checker")))
            state = got["data"]["state"]
        if state != "approved":
            raise RuntimeError(f"request {rid} ended {state}: {decided['data'].get('failureReason')}")
        self.approval_ms.append((time.perf_counter() - t0) * 1000)


class Sampler(threading.Thread):
    """RSS and CPU of the server every `every` seconds, from /proc."""

    def __init__(self, pid: int, every: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[dict[str, float]] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def sample(self) -> None:
        self.samples.append(
            {
                "t": round(time.monotonic() - self.t0, 1),
                "rss_mib": round(rss_kib(self.pid) / 1024, 1),
                "cpu_s": round(cpu_seconds(self.pid), 2),
            }
        )

    def run(self) -> None:
        self.sample()
        while not self.stop.wait(self.every):
            self.sample()


async def count_earns(store: Store) -> int:
    from foureyes.badges.models import BadgeEarn
    from foureyes.core.context import AppContext

    ctx = AppContext.build(store.settings())
    try:
        async with ctx.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(BadgeEarn)) or 0)
    finally:
        await ctx.close()


def main() -> None:
    parser = arguments(__doc__ or "", duration=30.0, concurrency=16)
    parser.add_argument("--rss-every", type=float, default=10.0)
    parser.add_argument("--plot", action="store_true", help="write docs/perf/e2e-rss-STORE.png")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks of the whole run")
    args = parser.parse_args()
    report = Report("e2e", args.store, vars(args) | {"out": str(args.out), "profile": str(args.profile)})
    with scratch_store(args.store) as store:
        with earn_badge_server(store, CUSTOMERS, args.processes) as (server, _http, badge):
            workflow = Workflow(badge)
            workflow.warm_up(server.base_url)
            sampler = Sampler(server.pid, args.rss_every)
            sampler.start()
            with profiling(server.pid, args.profile):
                result = run(closed_loop(server.base_url, args.concurrency, args.duration, workflow))
            sampler.stop.set()
            sampler.join()
            sampler.sample()
        earns = run(count_earns(store))
    rss = [s["rss_mib"] for s in sampler.samples]
    report.figures = {
        "workflows": result.ok,
        "errors": result.errors,
        "error_samples": result.error_samples,
        "seconds": round(result.elapsed, 2),
        "workflows_per_second": round(result.per_second, 1),
        "workflow_p50_ms": round(percentile(result.latencies_ms, 50), 2),
        "workflow_p99_ms": round(percentile(result.latencies_ms, 99), 2),
        "approval_to_approved_p50_ms": round(percentile(workflow.approval_ms, 50), 2),
        "approval_to_approved_p99_ms": round(percentile(workflow.approval_ms, 99), 2),
        "approvals_answered_before_approved": workflow.polled,
        "earned_badges": earns,
        "exactly_one_earn_each": earns >= result.ok,
        "rss_mib_first_last_max": [rss[0], rss[-1], max(rss)] if rss else [],
        "rss_samples": sampler.samples,
    }
    path = report.save(args.out)
    if args.plot:
        from benchmarks.plots import rss_plot

        print(rss_plot(path, ROOT / "docs" / "perf" / f"e2e-rss-{args.store}.png"))


if __name__ == "__main__":
    main()
