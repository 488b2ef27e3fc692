"""SQL statements and time per API call, in-process (ASGI), for before/after comparisons of a fix.

    python -m benchmarks.statements --store sqlite|postgresql [--n 100] [--calls]

Statement counts do not depend on the machine's load, unlike timings, so they are the steady figure to quote
for a change that removes round trips. Each endpoint is called `n` times after a warm-up; the table gives
statements per call, the SQL time, the wall time and the CPU time (the whole process: server and its in-process
client) per call. With `--calls` the last column counts Python function calls per call instead (sys.setprofile:
Python and C functions, the in-process client included): the same on every run, so it shows a change of a few per
cent that this machine's timings, which vary by a fifth from run to run, cannot. Wall and SQL times are then
inflated by the counting. Calls are a proxy for CPU, not a measure of it: a greenlet switch or a SQLite step
counts as one call.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import event

from benchmarks.common import (
    BADGES,
    WF,
    Store,
    approve_body,
    arguments,
    earn_badge_body,
    headers,
    load,
    scratch_store,
    seed_tenant,
)


class Meter:
    def __init__(self) -> None:
        self.count = 0
        self.sql_seconds = 0.0

    def before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def after(self, conn: Any, *_args: Any) -> None:
        self.count += 1
        self.sql_seconds += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())


class CallCounter:
    """A clock that reads Python function calls (Python and C) made on this thread since `start`, in thousands
    (so `measure` reports calls per API call where it would report CPU ms)."""

    def __init__(self) -> None:
        self.calls = 0

    def _profile(self, _frame: Any, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    def start(self) -> None:
        sys.setprofile(self._profile)

    def stop(self) -> None:
        sys.setprofile(None)

    def __call__(self) -> float:
        return self.calls / 1000


async def measure(
    store: Store, n: int, cpu_clock: Callable[[], float] = time.process_time, count_statements: bool = True
) -> list[tuple[str, float, float, float, float]]:
    from foureyes.app import create_app
    from foureyes.core.context import AppContext

    await seed_tenant(store, max(100, 2 * n + 10))
    settings = store.settings(8000)
    ctx = AppContext.build(settings)
    app = create_app(settings, ctx=ctx)
    base = "http://127.0.0.1:8000"
    ctx.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)
    meter = Meter()
    engines = {id(e): e for e in (ctx.db.write_engine.sync_engine, ctx.db.read_engine.sync_engine)}.values()
    for engine in engines if count_statements else ():
        event.listen(engine, "before_cursor_execute", meter.before)
        event.listen(engine, "after_cursor_execute", meter.after)
    out = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, timeout=60) as c:
        for user in ("maker", "checker", "admin", "writer"):
            await c.get(f"{WF}/requests", params={"limit": 1}, headers=headers(user))
        now = int(time.time())
        meta = {
            "name": "bench", "description": "d", "startOn": now - now % 86400, "expiresOn": now + 30 * 86400,
            "earnType": "EARN", "active": True, "ownership": {"restrictedToOwners": ["Loyalty"]},
            "earnedBadgeExpiry": {"expiryType": "RELATIVE", "relativeExpirytype": "WEEKS", "value": 2},
            "customerConstraints": [], "badgeConstraints": [],
        }  # fmt: skip
        badge = (await c.post(f"{BADGES}/badgeMeta", json=meta, headers=headers("writer"))).json()["data"]["id"]
        claim = {"ownerType": "Loyalty", "referenceId": "626"}
        await c.post(f"{BADGES}/badgeMeta/{badge}/claim", json=claim, headers=headers("writer"))
        config = {"allowedHosts": ["https://crm-nightly-new.cc.capillarytech.com"],
                  "hostRoutes": {"https://crm-nightly-new.cc.capillarytech.com": base}}  # fmt: skip
        await c.put(f"{WF}/config/EARN-BADGE", json=config, headers=headers("admin"))
        created: list[str] = []

        async def create(i: int) -> httpx.Response:
            r = await c.post(f"{WF}/EARN-BADGE", json=earn_badge_body(badge, 1 + i, f"s-{i}"), headers=headers("maker"))
            created.append(r.json()["data"]["requestId"])
            return r

        async def decide(i: int) -> httpx.Response:
            return await c.put(f"{WF}/EARN-BADGE", json=approve_body(created[i]), headers=headers("checker"))

        async def earn(i: int) -> httpx.Response:
            body = {"badgeMetaId": badge, "customerId": 1 + n + i, "requestId": f"e-{i}",
                    "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"}}  # fmt: skip
            return await c.post(f"{BADGES}/customer/earn", json=body, headers=headers("writer"))

        async def get(i: int) -> httpx.Response:
            return await c.get(f"{WF}/requests/{created[i]}", headers=headers("checker"))

        async def listing(_i: int) -> httpx.Response:
            return await c.get(f"{WF}/requests", params={"limit": 10}, headers=headers("checker"))

        async def inbox(_i: int) -> httpx.Response:
            return await c.get(f"{WF}/requests", params={"states": "AdminTask"}, headers=headers("checker"))

        calls: list[tuple[str, Callable[[int], Awaitable[httpx.Response]]]] = [
            ("create EARN-BADGE", create),
            ("list", listing),
            ("inbox", inbox),
            ("get", get),
            ("approve (incl. executor + downstream earn)", decide),
            ("badge earn", earn),
        ]
        # Warm-up, every call twice: the org's audit chain, the caches, SQLAlchemy's compiled cache and the direct
        # path's plans (core/direct.py compiles a statement for the driver on its second run).
        for i in range(2):
            await create(n + i)
        for i in range(2):
            await decide(i)
            await earn(n + i)
            await get(i)
            await listing(i)
            await inbox(i)
        created.clear()
        for name, call in calls:
            meter.count, meter.sql_seconds = 0, 0.0
            t0, cpu0 = time.perf_counter(), cpu_clock()
            for i in range(n):
                r = await call(i)
                if r.status_code != 200:
                    raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
            wall, cpu = time.perf_counter() - t0, cpu_clock() - cpu0
            out.append((name, meter.count / n, 1000 * meter.sql_seconds / n, 1000 * wall / n, 1000 * cpu / n))
    await ctx.close()
    return out


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--calls", action="store_true", help="count Python calls per call instead of CPU time")
    parser.add_argument(
        "--no-statements",
        action="store_true",
        help="do not count statements: the counting listener's own calls out of the figures, as in production",
    )
    args = parser.parse_args()
    counter = CallCounter()
    with scratch_store(args.store) as store:
        before = load()
        if args.calls:
            counter.start()
        try:
            clock = counter if args.calls else time.process_time
            rows = asyncio.run(measure(store, args.n, clock, count_statements=not args.no_statements))
        finally:
            counter.stop()
    print(f"{args.store}, n={args.n}, load {before['load1']} → {load()['load1']}")
    last = "Python calls" if args.calls else "CPU ms"
    print(f"| call | statements | SQL ms | wall ms | {last} |")
    print("|---|---|---|---|---|")
    for name, count, sql_ms, wall_ms, cpu in rows:
        shown = f"{cpu:,.0f}" if args.calls else f"{cpu:.2f}"
        print(f"| {name} | {count:.1f} | {sql_ms:.2f} | {wall_ms:.2f} | {shown} |")


if __name__ == "__main__":
    main()
