"""(c) The list API and the checker inbox at 10k, 100k and 1M stored requests.

    python -m benchmarks.bench_list --store sqlite|postgresql [--sizes 10000,100000,1000000] [--samples 40]

Rows are bulk-loaded straight into workflow_requests (executemany on SQLite, COPY on PostgreSQL), never
through the API; the store grows in steps and is measured at each size. Every figure is a real HTTP GET to a
fresh server, one request at a time, as the org-wide checker: the list's first page, page 1000 (offset 10,000)
and the middle page (the deepest a client can be from either end), and the same three pages of the inbox
(`states=AdminTask`, a tenth of the rows).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg

from benchmarks.common import (
    CONCEPT,
    ORG,
    ROOT,
    STORE,
    TILL,
    WF,
    ZONE,
    Report,
    Store,
    arguments,
    earn_badge_body,
    headers,
    percentile,
    run,
    running_server,
    scratch_store,
    seed_tenant,
    warm_up,
)
from foureyes.core.dialect import day_number_sql

COLUMNS = (
    "id", "org_id", "request_type", "state", "maker_kind", "maker_id", "maker_name", "concept_id", "zone_id",
    "store_id", "till_id", "unit_path", "start_time", "end_time", "expires_at", "config_revision", "payload",
    "details", "sealed_headers", "target_base", "approvals", "checker_id", "failure_reason", "version",
)  # fmt: skip
STATES = ["approved"] * 7 + ["rejected", "failed", "AdminTask"]  # one in ten pending: the inbox
EPOCH = datetime(2026, 1, 1)


def recount(dialect_name: str) -> tuple[str, str]:
    """Rows loaded behind the API's back are counted per (org, state, day) the way migration 0006 backfills
    (workflows/counts.py): the list's totals and its seek read these counters."""
    day = day_number_sql(dialect_name, "start_time")
    return (
        "DELETE FROM workflow_request_buckets",
        "INSERT INTO workflow_request_buckets (org_id, state, bucket, n) "
        f"SELECT org_id, state, {day}, COUNT(*) FROM workflow_requests GROUP BY org_id, state, {day}",
    )


def _payload() -> str:
    task = earn_badge_body("658c50761c4c2b12732c3ec6", 382477526, "bulk")["payload"]["IntouchAPITask-Payload"]
    task["headers"] = {"Authorization": "Basic ****", "content-type": "application/json"}
    return json.dumps(task)


def rows(start: int, stop: int) -> Any:
    payload = _payload()
    details = json.dumps({"ValidateMakerAccess_Output": True, "ValidatePayload_Output": True})
    path = f"/{CONCEPT}/{ZONE}/{STORE}/{TILL}/"
    rnd = random.Random(start)
    for i in range(start, stop):
        state = STATES[i % 10]
        started = EPOCH + timedelta(seconds=30 * i + rnd.randint(0, 29))
        ended = started + timedelta(minutes=5) if state != "AdminTask" else None
        yield (
            str(uuid.UUID(int=rnd.getrandbits(128))), ORG, "EARN-BADGE", state, "user", 1, "maker", CONCEPT, ZONE,
            STORE, TILL, path, started, ended, None, 0, payload, details, "{}", "http://127.0.0.1", "[]",
            2 if ended else None, None, 1,
        )  # fmt: skip


def load_sqlite(store: Store, start: int, stop: int) -> None:
    conn = sqlite3.connect(store.data_dir / "foureyes.db")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        marks = ",".join("?" * len(COLUMNS))
        sql = f"INSERT INTO workflow_requests ({','.join(COLUMNS)}) VALUES ({marks})"
        with conn:
            conn.executemany(
                sql,
                (
                    tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in r)
                    for r in rows(start, stop)
                ),
            )
            for sql in recount("sqlite"):
                conn.execute(sql)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def load_postgresql(store: Store, start: int, stop: int) -> None:
    assert store.url is not None
    url = store.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY workflow_requests ({','.join(COLUMNS)}) FROM STDIN") as copy:
            for r in rows(start, stop):
                copy.write_row(r)
        for sql in recount("postgresql"):
            conn.execute(sql)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE workflow_requests")


def timed(client: httpx.Client, params: dict[str, Any], samples: int) -> dict[str, Any]:
    latencies = []
    body: dict[str, Any] = {}
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.get(f"{WF}/requests", params=params, headers=headers("checker"))
        latencies.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{r.status_code} {r.text[:300]}")
        body = r.json()
    return {
        "params": params,
        "rows_returned": len(body["data"]),
        "total": body["pagination"]["totalElements"],
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "max_ms": round(max(latencies), 2),
    }


def measure(store: Store, rows_now: int, samples: int) -> dict[str, Any]:
    """First page, page 1000 (offset 10,000) and the middle page, of the list and of the inbox."""
    queries: dict[str, dict[str, Any]] = {}
    for name, total, extra in (("list", rows_now, {}), ("inbox", rows_now // 10, {"states": "AdminTask"})):
        last = max(0, (total - 1) // 10)
        queries[f"{name} first page"] = {**extra, "limit": 10, "PageNo": 0}
        queries[f"{name} page 1000"] = {**extra, "limit": 10, "PageNo": min(1000, last)}
        queries[f"{name} middle page"] = {**extra, "limit": 10, "PageNo": last // 2}
    with running_server(store) as server, httpx.Client(base_url=server.base_url, timeout=120) as client:
        warm_up(client)
        out = {}
        for name, params in queries.items():
            timed(client, params, 3)  # warm caches and pools
            out[name] = timed(client, params, samples)
            assert out[name]["rows_returned"] == 10, out[name]
            expected = rows_now // 10 if "states" in params else rows_now
            assert out[name]["total"] == expected, out[name]
    return out


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--plot", action="store_true", help="redraw docs/perf/list-cost-curve.png")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    report = Report("list", args.store, vars(args) | {"out": str(args.out)})
    results: list[dict[str, Any]] = []
    with scratch_store(args.store) as store:
        run(seed_tenant(store, 10))
        loaded = 0
        for size in sizes:
            t0 = time.perf_counter()
            (load_sqlite if args.store == "sqlite" else load_postgresql)(store, loaded, size)
            load_seconds = time.perf_counter() - t0
            loaded = size
            figures = measure(store, size, args.samples)
            results.append({"rows": size, "load_seconds": round(load_seconds, 1), "queries": figures})
            print(json.dumps(results[-1]))
    report.figures = {
        "sizes": results,
        "target_p95_ms": 20,
        "met_at_largest": all(q["p95_ms"] < 20 for q in results[-1]["queries"].values()) if results else False,
    }
    path = report.save(args.out)
    if args.plot:
        from benchmarks.plots import list_curve

        print(list_curve(sorted(path.parent.glob("list-*.json")), ROOT / "docs" / "perf" / "list-cost-curve.png"))


if __name__ == "__main__":
    main()
