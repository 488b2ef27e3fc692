"""(d) Badge earn throughput with limits enforced, sequential and concurrent.

    python -m benchmarks.bench_badges --store sqlite|postgresql [--duration 10] [--concurrency 16]

POST /api_gateway/v1/badges/customer/earn over HTTP against a badge with a customer fixed-window limit
(2 per 3 days) and a badge rolling-window limit (per day, set high enough not to stop the run): every earn
counts both windows before writing. Phases: one client (sequential), then `concurrency` clients. Finally a
race: `concurrency` clients hammer a badge whose lifetime limit is 50; exactly 50 must be earned.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.common import (
    BADGES,
    Report,
    Store,
    arguments,
    cpu_seconds,
    create_badge,
    headers,
    run,
    running_server,
    scratch_store,
    seed_tenant,
    warm_up,
)
from benchmarks.loadgen import closed_loop

CUSTOMERS = 20000
RACE_LIMIT = 50


async def earned(store: Store, badge: str) -> int:
    from foureyes.badges.models import BadgeEarn
    from foureyes.core.context import AppContext

    ctx = AppContext.build(store.settings())
    try:
        async with ctx.db.read() as s:
            return int(
                await s.scalar(select(func.count()).select_from(BadgeEarn).where(BadgeEarn.badge_id == badge)) or 0
            )
    finally:
        await ctx.close()


def main() -> None:
    args = arguments(__doc__ or "", duration=10.0, concurrency=16).parse_args()
    report = Report("badges", args.store, vars(args) | {"out": str(args.out)})
    serial = itertools.count()
    run_id = uuid.uuid4().hex[:8]
    with scratch_store(args.store) as store:
        run(seed_tenant(store, CUSTOMERS))
        with running_server(store) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
            warm_up(http)
            limited = create_badge(
                http,
                customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 2,
                                      "durationType": "DAYS", "refreshRate": 3}],
                badgeConstraints=[{"constraintType": "BADGE_ROLLING_WINDOW", "rollType": "DAYS", "rollValue": 1,
                                   "maxEarnLimit": 10_000_000}],
            )  # fmt: skip
            race = create_badge(
                http, badgeConstraints=[{"constraintType": "BADGE_FIXED_VALUE", "maxEarnLimit": RACE_LIMIT}]
            )

            def phase(badge: str, concurrency: int, duration: float) -> dict[str, Any]:
                codes: Counter[str] = Counter()

                async def op(client: httpx.AsyncClient, _worker: int, _seq: int) -> None:
                    n = next(serial)
                    body = {
                        "badgeMetaId": badge,
                        "customerId": 1 + (n * 7) % CUSTOMERS,
                        "requestId": f"{run_id}-{n}",
                        "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"},
                    }
                    r = await client.post(f"{BADGES}/customer/earn", json=body, headers=headers("writer"))
                    if r.status_code == 200:
                        codes["200"] += 1
                        return
                    code = str(r.json()["errors"][0]["code"])
                    codes[code] += 1
                    raise RuntimeError(f"{r.status_code} {code}")

                cpu0 = cpu_seconds(server.pid)
                result = run(closed_loop(server.base_url, concurrency, duration, op))
                figures = result.summary()
                figures["answers"] = dict(codes)
                figures["server_cpu_ms_per_earn"] = round(
                    1000 * (cpu_seconds(server.pid) - cpu0) / max(1, result.ok), 3
                )
                return figures

            phase(limited, 2, 2.0)  # warm-up
            sequential = phase(limited, 1, args.duration)
            concurrent = phase(limited, args.concurrency, args.duration)
            raced = phase(race, args.concurrency, min(args.duration, 5.0))
        race_earned = run(earned(store, race))
    report.figures = {
        "sequential": sequential,
        "concurrent": concurrent,
        "race": raced
        | {"limit": RACE_LIMIT, "earned": race_earned, "limit_held": race_earned == min(RACE_LIMIT, raced["ok"])},
    }
    report.save(args.out)


if __name__ == "__main__":
    main()
