"""The list's seek (per-day counters, counts.seek) returns exactly the page a plain OFFSET query returns.

Rows are written through the repository (add_request / transition), the only write paths, over days chosen to
cover the seek's edges: many requests in one day, lone requests, empty days between, empty buckets left by
transitions, ties on start_time, midnight on the dot, a day before 1970, and a second org on the same days.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text

from foureyes.core.context import AppContext
from foureyes.core.dialect import day_number_sql
from foureyes.core.ids import uuid7
from foureyes.workflows.counts import bucket_of, recount
from foureyes.workflows.listing import conditions, params_of, shape_of
from foureyes.workflows.models import RequestBucket, WorkflowRequest
from foureyes.workflows.repository import ListQuery, WorkflowRepository
from tests.factories import CONCEPT, STORE, TILL, ZONE, Tenant, make_tenant
from tests.integration.workflows.conftest import body_for, configure, decision

ORG, OTHER = 100, 200
PENDING = "AdminTask"
BASE = "/api_gateway/v2/request-workflow"


def _starts() -> list[datetime]:
    """Start times: the seek's edge cases, then a deterministic scatter over three weeks with gaps."""
    busy = datetime(2025, 3, 10)
    starts = [busy + timedelta(minutes=7 * i) for i in range(60)]  # 60 in one day
    starts += [busy + timedelta(hours=5)] * 4  # ties on start_time (ids decide)
    starts += [datetime(2025, 3, 11), datetime(2025, 3, 11, 23, 59, 59, 999999)]  # both ends of a day
    starts += [datetime(2025, 3, 15, 12), datetime(2025, 3, 20, 1)]  # lone days, empty days between
    starts += [datetime(1969, 12, 31, 23, 30)]  # a negative bucket
    rnd = random.Random(4)
    starts += [datetime(2025, 3, 1) + timedelta(seconds=rnd.randrange(21 * 86400)) for _ in range(50)]
    return starts


def _row(org_id: int, start: datetime) -> WorkflowRequest:
    return WorkflowRequest(
        id=uuid7(), org_id=org_id, request_type="EARN-BADGE", state=PENDING, maker_kind="user", maker_id=1,
        maker_name="maker", concept_id=CONCEPT, zone_id=ZONE, store_id=STORE, till_id=TILL,
        unit_path=f"/{CONCEPT}/{ZONE}/{STORE}/{TILL}/", start_time=start, end_time=None, expires_at=None,
        config_revision=0, payload={}, details={}, sealed_headers={}, target_base="http://127.0.0.1",
        approvals=[], version=1,
    )  # fmt: skip


async def _populate(ctx: AppContext) -> None:
    """Requests of two orgs, then a third of ORG's decided or cancelled (leaving some pending buckets empty)."""
    rows = {org: [_row(org, s) for s in _starts()] for org in (ORG, OTHER)}
    async with ctx.db.write() as s:
        repo = WorkflowRepository(s)
        for batch in rows.values():
            for row in batch:
                await repo.add_request(row)
    moves = ["approved", "rejected", "cancelled", "executing"]
    rnd = random.Random(7)
    async with ctx.db.write() as s:
        repo = WorkflowRepository(s)
        for i, row in enumerate(rnd.sample(rows[ORG][:68], len(rows[ORG]) // 3)):
            to = moves[i % len(moves)]
            end = {"end_time": row.start_time + timedelta(minutes=i)} if to != "executing" else {}
            assert await repo.transition(ORG, row.id, from_state=PENDING, version=1, values={"state": to, **end})
        # A lost compare-and-set moves nothing (and counts nothing).
        lost = rows[ORG][0]
        assert not await repo.transition(ORG, lost.id, from_state="approved", version=99, values={"state": "failed"})
        # The 1969 request expires: its day keeps a pending bucket at 0 (a bucket the seek must step over).
        assert await repo.transition(ORG, rows[ORG][68].id, from_state=PENDING, version=1, values={"state": "expired"})


async def _buckets(ctx: AppContext) -> tuple[dict[tuple[int, str, int], int], dict[tuple[int, str, int], int]]:
    """(counters, COUNT(*) per org, state and day of the rows), zero counters left out."""
    async with ctx.db.read() as s:
        day = text(day_number_sql(s.get_bind().dialect.name, "start_time"))
        counted = {
            (o, st, b): n
            for o, st, b, n in (
                await s.execute(
                    select(WorkflowRequest.org_id, WorkflowRequest.state, day, func.count()).group_by(
                        WorkflowRequest.org_id, WorkflowRequest.state, day
                    )
                )
            ).all()
        }
        kept = (
            await s.execute(select(RequestBucket.org_id, RequestBucket.state, RequestBucket.bucket, RequestBucket.n))
        ).all()
    return {(o, st, b): n for o, st, b, n in kept if n}, counted


async def _plain(ctx: AppContext, q: ListQuery) -> tuple[list[str], int]:
    """The reference: the same filters with a plain OFFSET and COUNT(*)."""
    shape = shape_of(q)
    where, params = conditions(shape), params_of(q, shape)
    column = WorkflowRequest.start_time if q.sort_by == "startDate" else WorkflowRequest.end_time
    order = [column.desc(), WorkflowRequest.id.desc()] if q.descending else [column.asc(), WorkflowRequest.id.asc()]
    async with ctx.db.read() as s:
        ids = (
            await s.scalars(
                select(WorkflowRequest.id).where(*where).order_by(*order).offset(q.page * q.limit).limit(q.limit),
                params,
            )
        ).all()
        total = await s.scalar(select(func.count()).select_from(WorkflowRequest).where(*where), params)
    return list(ids), int(total or 0)


async def _searched(ctx: AppContext, q: ListQuery) -> tuple[list[str], int]:
    async with ctx.db.read() as s:
        rows, total = await WorkflowRepository(s).search(q)
    return [r.id for r in rows], total


@contextmanager
def _statements(ctx: AppContext) -> Iterator[list[str]]:
    seen: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite sends one, psycopg does not
            seen.append(" ".join(statement.split()))

    engine = ctx.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _record)


@pytest.fixture
async def populated(ctx: AppContext) -> AppContext:
    await make_tenant(ctx, ORG)
    await make_tenant(ctx, OTHER, name="Other", second_store=False)
    await _populate(ctx)
    return ctx


async def test_counters_equal_count_per_org_state_and_day(populated: AppContext) -> None:
    kept, counted = await _buckets(populated)
    assert kept == counted
    assert sum(n for (o, _, _), n in kept.items() if o == ORG) == len(_starts())
    assert (ORG, "expired", bucket_of(datetime(1969, 12, 31, 23, 30))) in kept
    assert bucket_of(datetime(1969, 12, 31, 23, 30)) == -1 and bucket_of(datetime(1970, 1, 1)) == 0
    # The backfill's SQL (migration 0006, recount) puts every row in the bucket Python puts it in.
    async with populated.db.write() as s:
        await recount(s)
    assert await _buckets(populated) == (kept, counted)


@pytest.mark.parametrize("states", [[], [PENDING], ["approved", "rejected"], ["cancelled", PENDING, "executing"]])
async def test_seek_returns_the_plain_offset_page(populated: AppContext, states: list[str]) -> None:
    for descending in (True, False):
        for limit in (1, 7, 25):
            q = ListQuery(org_id=ORG, states=states, descending=descending, limit=limit)
            total = (await _plain(populated, q))[1]
            for page in range(math.ceil(total / limit) + 2):  # every page, the last, and two beyond the end
                q.page = page
                assert await _searched(populated, q) == await _plain(populated, q), (states, descending, limit, page)


async def test_no_rows_and_no_such_state(populated: AppContext) -> None:
    for q in (ListQuery(org_id=999), ListQuery(org_id=ORG, states=["failed"]), ListQuery(org_id=ORG, page=10**6)):
        assert await _searched(populated, q) == await _plain(populated, q)
    assert (await _searched(populated, ListQuery(org_id=ORG, states=["failed"]))) == ([], 0)


async def test_deep_page_reads_only_its_days(populated: AppContext) -> None:
    """Two statements (counters, page); the page is bounded to its days, so its OFFSET is what is left of them."""
    q = ListQuery(org_id=ORG, descending=False, limit=10, page=9)
    with _statements(populated) as seen:
        found = await _searched(populated, q)
    assert found == await _plain(populated, q)
    assert len(seen) == 2, seen  # the counters' running sum, the page
    assert "workflow_request_buckets" in seen[0]
    assert "start_time >=" in seen[1] and "start_time <" in seen[1], seen[1]
    with _statements(populated) as seen:
        assert await _searched(populated, ListQuery(org_id=ORG, page=10**6)) == ([], len(_starts()))
    assert len(seen) == 1, seen  # past the end: the counters alone answer


async def test_fallbacks_still_count_and_walk(populated: AppContext) -> None:
    """endDate sorting, unit-scoped callers and other filters keep the plain path, and stay right."""
    queries = [
        ListQuery(org_id=ORG, sort_by="endDate", states=["approved", "rejected"], limit=4),
        ListQuery(org_id=ORG, sort_by="endDate", descending=False, limit=9),
        ListQuery(org_id=ORG, unit_scopes=[f"/{CONCEPT}/"], visible_maker=("user", 1), limit=10),
        ListQuery(org_id=ORG, unit_scopes=[], visible_maker=("user", 2), limit=10),
        ListQuery(org_id=ORG, maker_id=1, states=[PENDING], descending=False, limit=6),
        ListQuery(org_id=ORG, start_from=datetime(2025, 3, 10), start_before=datetime(2025, 3, 12), limit=8),
    ]
    for q in queries:
        total = (await _plain(populated, q))[1]
        for page in range(math.ceil(total / q.limit) + 1):
            q.page = page
            assert await _searched(populated, q) == await _plain(populated, q), (q, page)
    with _statements(populated) as seen:
        await _searched(populated, ListQuery(org_id=ORG, sort_by="endDate", states=[PENDING], page=3))
    assert "workflow_request_buckets" in seen[0] and "start_time >=" not in seen[1], seen


async def test_api_decisions_and_cancel_keep_the_day_counters_exact(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    """Approve, reject and cancel through the API (service → transition) move the request's day bucket."""
    await configure(client, tenant, "GOODWILL-POINTS")
    ids = []
    for _ in range(5):
        r = await client.post(
            f"{BASE}/GOODWILL-POINTS", json=body_for("GOODWILL-POINTS"), headers=tenant.headers("maker@demo.test")
        )
        assert r.status_code == 200, r.text
        ids.append(r.json()["data"]["requestId"])
    checker = tenant.headers("checker@demo.test")
    for rid, verdict in ((ids[0], "approved"), (ids[1], "rejected")):
        r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid, verdict), headers=checker)
        assert r.status_code == 200, r.text
    r = await client.post(
        f"{BASE}/requests/{ids[2]}/cancel", json={"reason": "r"}, headers=tenant.headers("maker@demo.test")
    )
    assert r.status_code == 200, r.text
    kept, counted = await _buckets(ctx)
    assert kept == counted and sum(kept.values()) == 5
    admin = tenant.headers("admin@demo.test")
    for params in ({"PageNo": 0, "limit": 2}, {"PageNo": 1, "limit": 2, "sortOrder": "asc"}, {"states": PENDING}):
        r = await client.get(f"{BASE}/requests", params=params, headers=admin)
        assert r.status_code == 200, r.text
        q = ListQuery(
            org_id=tenant.org_id, states=[str(params["states"])] if "states" in params else [],
            descending=params.get("sortOrder") != "asc", page=int(params.get("PageNo", 0)),
            limit=int(params.get("limit", 10)),
        )  # fmt: skip
        expected_ids, total = await _plain(ctx, q)
        assert [i["requestId"] for i in r.json()["data"]] == expected_ids
        assert r.json()["pagination"]["totalElements"] == total


async def test_a_short_page_the_counters_contradict_walks_the_offset(ctx: AppContext) -> None:
    """Rows that leave a day between the counters' statement and the page's (PostgreSQL reads each statement at
    its own snapshot) would cut the page short; the list then reads it the plain way."""
    await make_tenant(ctx, 300, name="Third", second_store=False)
    day_a, day_b = datetime(2025, 5, 1, 9), datetime(2025, 5, 2, 9)
    async with ctx.db.write() as s:
        for start in [day_a + timedelta(minutes=i) for i in range(5)] + [
            day_b + timedelta(minutes=i) for i in range(5)
        ]:
            await WorkflowRepository(s).add_request(_row(300, start))
    q = ListQuery(org_id=300, descending=False, limit=4, page=1)
    expected = await _plain(ctx, q)
    assert await _searched(ctx, q) == expected
    # The counters now see 3 more requests on day A than the rows do: as if 3 left it after the counters were read.
    async with ctx.db.write() as s:
        await s.execute(
            text("UPDATE workflow_request_buckets SET n = n + 3 WHERE org_id = 300 AND bucket = :b"),
            {"b": bucket_of(day_a)},
        )
    with _statements(ctx) as seen:
        ids, total = await _searched(ctx, q)
    assert ids == expected[0] and total == 13
    assert len(seen) == 3 and "start_time <" in seen[1] and "start_time <" not in seen[2], seen
