"""Hold a mixed maker/checker workload against `foureyes serve` on SQLite with locust, then check the outcome.

    .venv/bin/python -m benchmarks.load --minutes 5 --users 10 [--report docs/performance.md]

Loopback only. Seeds a scratch store, starts `foureyes serve` (API + in-process worker) on 127.0.0.1, runs
locust headless for the given time, waits for the executions to settle and verifies: zero failed requests,
every approved request `approved` with exactly one badge, no job left ready or leased, the audit chain intact.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    ROOT,
    Store,
    create_badge,
    free_port,
    load,
    machine,
    route_earn_badge_to,
    run,
    scratch_store,
    seed_tenant,
    warm_up,
)

FOUREYES = str(Path(sys.executable).with_name("foureyes"))
LOCUST = str(Path(sys.executable).with_name("locust"))


def serve(store: Store, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **store.env(port), "FOUREYES_LOG_LEVEL": "WARNING"}
    log = (store.data_dir / "serve.log").open("wb")
    process = subprocess.Popen([FOUREYES, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("foureyes serve did not start")


def aggregated(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def outcome(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM workflow_requests GROUP BY state").fetchall())
        jobs = dict(conn.execute("SELECT status, count(*) FROM execution_jobs GROUP BY status").fetchall())
        doubles = conn.execute(
            "SELECT count(*) FROM (SELECT request_id FROM badge_earns GROUP BY request_id HAVING count(*) > 1)"
        ).fetchone()[0]
        earned = conn.execute("SELECT count(*) FROM badge_earns").fetchone()[0]
    return {"states": states, "jobs": jobs, "badges": earned, "double_badges": doubles}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float, default=5.0)
    parser.add_argument("--report", type=Path, default=None, help="append the markdown report to this file")
    args = parser.parse_args()

    with scratch_store("sqlite") as store:
        run(seed_tenant(store, customers=1000))
        port = free_port()
        server = serve(store, port)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                warm_up(client)
                badge = create_badge(client)
                route_earn_badge_to(client, base)
            prefix = store.data_dir / "locust"
            started, load_before = time.time(), load()
            env = {**os.environ, "BENCH_BADGE_ID": badge, "BENCH_CUSTOMERS": "1000", "PYTHONPATH": str(ROOT)}
            locust = subprocess.run(
                [LOCUST, "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless", "--host", base,
                 "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{int(args.minutes * 60)}s",
                 "--csv", str(prefix), "--only-summary", "--stop-timeout", "30"],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            elapsed = time.time() - started
            load_after = load()
            time.sleep(15)  # let the last approvals' executions settle
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
        stats = aggregated(prefix)
        result = outcome(store.data_dir / "foureyes.db")
        audit = subprocess.run(
            [FOUREYES, "audit", "verify"], env={**os.environ, **store.env(port)}, capture_output=True, text=True
        )
    total = stats["Aggregated"]
    failures = int(total["Failure Count"])
    stuck = sum(v for k, v in result["jobs"].items() if k in ("ready", "leased"))
    ok = failures == 0 and locust.returncode == 0 and stuck == 0 and result["double_badges"] == 0
    ok = ok and audit.returncode == 0 and set(result["states"]) <= {"AdminTask", "approved"}
    report = render(args, stats, result, elapsed, load_before, load_after, audit.returncode, ok)
    sys.stdout.write(report + "\n")
    if locust.returncode != 0:
        sys.stderr.write(locust.stderr[-3000:])
    if args.report:
        with args.report.open("a") as f:
            f.write(report + "\n")
    raise SystemExit(0 if ok else 1)


def render(args: Any, stats: dict[str, dict[str, str]], result: dict[str, Any], elapsed: float,
           load_before: dict[str, float], load_after: dict[str, float], audit_rc: int, ok: bool) -> str:  # fmt: skip
    m = machine()
    lines = [
        f"### Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {'PASS' if ok else 'FAIL'}",
        "",
        f"`python -m benchmarks.load --minutes {args.minutes:g} --users {args.users}` — `foureyes serve` (API and",
        "in-process worker) on SQLite, locust on the same host over loopback; EARN-BADGE requests executed against",
        f"the server's own badges API. {elapsed:.0f} s of load. Machine: {json.dumps(m)}; load average",
        f"{load_before} before and {load_after} after (the machine was shared with other work during the run).",
        "",
        "| Operation | Requests | Failures | Median ms | p95 ms | p99 ms | Max ms | req/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("create", "approve", "list", "get", "Aggregated"):
        row = stats.get(name)
        if row:
            lines.append(
                f"| {name} | {row['Request Count']} | {row['Failure Count']} | {row['Median Response Time']} | "
                f"{row['95%']} | {row['99%']} | {float(row['Max Response Time']):.0f} | "
                f"{float(row['Requests/s']):.1f} |"
            )
    lines += [
        "",
        f"Afterwards: requests by state {result['states']}; execution jobs {result['jobs']}; "
        f"{result['badges']} badges earned, {result['double_badges']} requestIds with more than one badge; "
        f"`foureyes audit verify` exit code {audit_rc}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
