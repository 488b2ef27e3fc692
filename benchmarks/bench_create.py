"""(a) Create-request throughput over HTTP: EARN-BADGE (badges dry run, durable commit) vs a bare JSON route.

    python -m benchmarks.bench_create --store sqlite|postgresql [--duration 10] [--rounds 3] [--driver wrk|httpx]

Both endpoints live on the same app instance in one uvicorn process; phases alternate (bare, create, bare,
create, …) so both see the same machine, and the ratio is taken per round. Every create is checked
afterwards: the number of stored requests equals the number of 200 answers.
"""

from __future__ import annotations

import statistics
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.common import (
    WF,
    Report,
    Server,
    Store,
    arguments,
    cpu_seconds,
    earn_badge_body,
    earn_badge_server,
    headers,
    profiling,
    run,
    scratch_store,
)
from benchmarks.loadgen import closed_loop, expect_ok, have_wrk, wrk_post
from benchmarks.server import BARE_PATH

CUSTOMERS = 1000


def phase(server: Server, driver: str, path: str, body_for: Any, duration: float, concurrency: int) -> dict[str, Any]:
    cpu0 = cpu_seconds(server.pid)
    if driver == "wrk":
        figures = wrk_post(server.base_url + path, body_for(0, 0), headers("maker"), duration, concurrency)
        count = figures["requests"] - figures["non_2xx"]
        figures["errors"] = figures["non_2xx"]
    else:

        async def op(http: httpx.AsyncClient, worker: int, seq: int) -> None:
            expect_ok(await http.post(path, json=body_for(worker, seq), headers=headers("maker")))

        result = run(closed_loop(server.base_url, concurrency, duration, op))
        figures = result.summary()
        count = result.ok
    used = cpu_seconds(server.pid) - cpu0
    figures["server_cpu_ms_per_request"] = round(1000 * used / max(1, count), 3)
    figures["count_ok"] = count
    return figures


async def stored_requests(store: Store) -> int:
    from foureyes.core.context import AppContext
    from foureyes.workflows.models import WorkflowRequest

    ctx = AppContext.build(store.settings())
    try:
        async with ctx.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(WorkflowRequest)) or 0)
    finally:
        await ctx.close()


def main() -> None:
    parser = arguments(__doc__ or "", duration=10.0, concurrency=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks of one create phase")
    parser.add_argument("--driver", choices=("wrk", "httpx"), default="wrk" if have_wrk() else "httpx")
    args = parser.parse_args()
    report = Report("create", args.store, vars(args) | {"out": str(args.out)})
    with scratch_store(args.store) as store:
        with earn_badge_server(store, CUSTOMERS, args.processes) as (server, http, badge):
            run_id = uuid.uuid4().hex[:8]

            def create_body(worker: int, seq: int) -> dict[str, Any]:
                return earn_badge_body(badge, 1 + (worker * 7919 + seq) % CUSTOMERS, f"{run_id}-{worker}-{seq}")

            def bare_body(worker: int, seq: int) -> dict[str, Any]:
                return create_body(worker, seq)

            first = expect_ok(http.post(f"{WF}/EARN-BADGE", json=create_body(99, 0), headers=headers("maker")))
            assert first["data"]["state"] == "AdminTask" and first["data"]["details"]["ValidatePayload_DryRun"]
            created = 1
            short = min(3.0, args.duration)  # warm both paths (imports, pools, caches) before measuring
            phase(server, args.driver, BARE_PATH, bare_body, short, args.concurrency)
            created += phase(server, args.driver, f"{WF}/EARN-BADGE", create_body, short, args.concurrency)["count_ok"]
            if args.profile:
                with profiling(server.pid, args.profile):
                    created += phase(server, args.driver, f"{WF}/EARN-BADGE", create_body, args.duration, 4)["count_ok"]
            rounds = []
            for _ in range(args.rounds):
                bare = phase(server, args.driver, BARE_PATH, bare_body, args.duration, args.concurrency)
                create = phase(server, args.driver, f"{WF}/EARN-BADGE", create_body, args.duration, args.concurrency)
                created += create["count_ok"]
                rounds.append(
                    {"bare": bare, "create": create, "ratio": round(create["per_second"] / bare["per_second"], 4)}
                )
        stored = run(stored_requests(store))
    report.figures = {
        "driver": args.driver,
        "rounds": rounds,
        "bare_per_second_median": statistics.median(r["bare"]["per_second"] for r in rounds),
        "create_per_second_median": statistics.median(r["create"]["per_second"] for r in rounds),
        "ratio_median": statistics.median(r["ratio"] for r in rounds),
        "create_p50_ms_median": statistics.median(r["create"]["p50_ms"] for r in rounds),
        "create_p99_ms_median": statistics.median(r["create"]["p99_ms"] for r in rounds),
        "stored_requests": stored,
        "acknowledged_creates": created,
        "durable": stored >= created,  # in-flight creates at a phase end are stored but not counted
    }
    report.save(args.out)


if __name__ == "__main__":
    main()
