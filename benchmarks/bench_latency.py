"""(b') Approval → `approved` latency against offered load: the end-to-end workflow in an open loop.

    python -m benchmarks.bench_latency --store sqlite|postgresql [--rates 5,10,20,30,40,50] [--duration 30] [--plot]

`bench_e2e` runs closed loops: 16 clients keep the server saturated, so its latency is mostly queueing behind
those clients. Here workflows arrive at a chosen rate (Poisson arrivals, seeded), whatever the server's progress,
one step per rate in the order given, on one server and store: latency as people would feel it at that load. Each
workflow is the one `bench_e2e` runs (create → approve → downstream earn over real HTTP → `approved`). A step
reports the offered and achieved rates, arrivals shed because 256 workflows were still running, the approval →
`approved` p50/p95/p99, how late the generator started arrivals (its own health), the server's CPU use, and how
many approvals answered before `approved` (then the client polls, as bench_e2e does).
The sweep stops after the first saturated step (arrivals shed, or more than one second's arrivals still running
when the step's window closes): beyond it more load only lengthens the queue. At the end every workflow must
have exactly one earned badge.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from benchmarks.bench_e2e import CUSTOMERS, Workflow, count_earns
from benchmarks.common import (
    ROOT,
    Report,
    arguments,
    cpu_seconds,
    earn_badge_server,
    percentile,
    profiling,
    run,
    scratch_store,
)
from benchmarks.loadgen import LoadResult, open_loop

TARGET_P99_MS = 50.0
LATENCY_PNG = "approval-latency-vs-load.png"


def step_figures(rate: float, result: LoadResult, workflow: Workflow, cpu: float) -> dict[str, Any]:
    approval_ms = workflow.approval_ms
    achieved = result.ok / result.elapsed if result.elapsed else 0.0
    return {
        "offered_per_second": rate,
        "achieved_per_second": round(achieved, 1),
        "workflows": result.ok,
        "errors": result.errors,
        "error_samples": result.error_samples[:3],
        "shed": result.shed,
        "in_flight_at_end": result.in_flight_at_end,
        "approval_p50_ms": round(percentile(approval_ms, 50), 2),
        "approval_p95_ms": round(percentile(approval_ms, 95), 2),
        "approval_p99_ms": round(percentile(approval_ms, 99), 2),
        "workflow_p99_ms": round(percentile(result.latencies_ms, 99), 2),
        "approvals_answered_before_approved": workflow.polled,
        "start_lag_p99_ms": round(percentile(result.start_lag_ms, 99), 2),
        "server_cpu_share": round(cpu / result.elapsed, 2) if result.elapsed else math.nan,
        # Past capacity the backlog grows for as long as the step lasts: more than a second's arrivals still
        # running when the window closes (a server that keeps up has rate × mean latency, a fraction of that).
        "saturated": result.shed > 0 or result.in_flight_at_end > rate,
    }


def main() -> None:
    parser = arguments(__doc__ or "", duration=30.0)
    parser.add_argument("--rates", default="5,10,20,30,40,50", help="offered workflows/s, one step each")
    parser.add_argument("--plot", action="store_true", help="write docs/perf/approval-latency-vs-load.png")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks of the steps")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    report = Report("latency", args.store, vars(args) | {"out": str(args.out), "profile": str(args.profile)})
    steps: list[dict[str, Any]] = []
    finished = errors = 0
    with scratch_store(args.store) as store:
        with earn_badge_server(store, CUSTOMERS, args.processes) as (server, _http, badge):
            workflow = Workflow(badge)
            finished += workflow.warm_up(server.base_url)
            with profiling(server.pid, args.profile):
                for rate in rates:
                    workflow.reset()
                    cpu_before = cpu_seconds(server.pid)
                    result = run(open_loop(server.base_url, rate, args.duration, workflow))
                    finished, errors = finished + result.ok, errors + result.errors
                    step = step_figures(rate, result, workflow, cpu_seconds(server.pid) - cpu_before)
                    steps.append(step)
                    print({k: v for k, v in step.items() if k != "error_samples"}, flush=True)
                    if step["saturated"]:
                        break
        earns = run(count_earns(store))
    within = [s["offered_per_second"] for s in steps if s["approval_p99_ms"] < TARGET_P99_MS and not s["saturated"]]
    report.figures = {
        "steps": steps,
        "highest_offered_rate_with_p99_under_50ms": max(within) if within else None,
        "earned_badges": earns,
        "workflows": finished,
        "errors": errors,
        # An errored workflow may or may not have earned; a finished one earned once, and nothing earned twice.
        "exactly_one_earn_each": finished <= earns <= finished + errors,
    }
    path = report.save(args.out)
    if args.plot:
        from benchmarks.plots import latency_plot

        print(latency_plot(sorted(path.parent.glob("latency-*.json")), ROOT / "docs" / "perf" / LATENCY_PNG))


if __name__ == "__main__":
    main()
