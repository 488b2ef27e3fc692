"""Requests per (org, state, UTC day of start), kept in the transaction that creates or moves a request.

The list API answers `totalElements` with every page. At a million requests a `COUNT(*)` walks a million index
entries (about 0.3 s on SQLite, see docs/performance.md), so the common lists — the whole org, or the org
filtered by state (the checker inbox) — read these counters instead. Any other filter still counts rows.

Counting per day as well lets the same lists, sorted by start, seek instead of walking an OFFSET: a running sum
over the days finds the day where page N begins and how many requests come before it, and the page is then read
from that day on with a residual offset of at most a day's requests (`seek`, used by WorkflowRepository.search).
Days, not hours: a year of history is ~365 counter rows per state to sum, and a day of a busy org (a few
thousand requests) is a short index walk; see docs/decisions.md.

Every write path goes through `WorkflowRepository.add_request` and `.transition`, which keep them exact; the
org's audit-chain row already serialises an org's writers, so the counters add no new contention. A request's
start_time never changes after creation, so its day never moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.service import lock_chain
from foureyes.core.dialect import day_number_sql, upsert_increment, upsert_increments
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.workflows.models import RequestBucket

_EPOCH = datetime(1970, 1, 1)
_DAY = timedelta(days=1)


def bucket_of(start_time: datetime) -> int:
    """The counter bucket of a naive-UTC start time: whole days since 1970-01-01 (floor, also before it)."""
    if start_time.tzinfo is not None:
        start_time = start_time.astimezone(UTC).replace(tzinfo=None)
    return (start_time - _EPOCH) // _DAY


def bucket_start(bucket: int) -> datetime:
    """The first instant of a bucket; its end is the next bucket's start."""
    return _EPOCH + bucket * _DAY


async def _serialise_org(session: AsyncSession, org_id: int) -> None:
    """Take the org's audit-chain row before touching a counter, so every writer locks in one order.

    Without it a decision (counter, then audit row) and a worker recording an attempt (audit row, then counter)
    deadlocked on PostgreSQL under load (found by tests/cluster). Once per transaction: the audit chain keeps
    the locked head for the transaction's later events.
    """
    await lock_chain(session, org_id)


# The counters' statements are built once, with bind parameters: building a statement and its cache key costs
# more Python than running it (see `_seek_statement`), while a reused statement's cache key is memoised.
_BUCKETS = core_table(RequestBucket)  # Core: no ORM rows involved


async def count_added(session: AsyncSession, org_id: int, state: str, start_time: datetime) -> None:
    await _serialise_org(session, org_id)
    keys = {"org_id": org_id, "state": state, "bucket": bucket_of(start_time)}
    await upsert_increment(session, _BUCKETS, keys, "n", 1)


async def count_moved(session: AsyncSession, org_id: int, from_state: str, to_state: str, start_time: datetime) -> None:
    """One request leaves `from_state` for `to_state` on its start day: both counters in one executemany."""
    if from_state == to_state:
        return
    await _serialise_org(session, org_id)
    day = bucket_of(start_time)
    out_of, into = (
        {"org_id": org_id, "state": from_state, "bucket": day},
        {"org_id": org_id, "state": to_state, "bucket": day},
    )
    await upsert_increments(session, _BUCKETS, [(out_of, -1), (into, 1)], "n")


@cache
def _total_statement(with_states: bool) -> Select[Any]:
    where: list[ColumnElement[bool]] = [_BUCKETS.c.org_id == bindparam("org")]
    if with_states:
        where.append(_BUCKETS.c.state.in_(bindparam("states", expanding=True)))
    return select(func.coalesce(func.sum(_BUCKETS.c.n), 0)).where(*where)


async def counted_total(session: AsyncSession, org_id: int, states: list[str]) -> int:
    """Requests of the org (in `states`, when given) from the counters."""
    params: dict[str, Any] = {"org": org_id, "states": states} if states else {"org": org_id}
    return int((await execute(session, _total_statement(bool(states)), params)).scalar() or 0)


@dataclass(frozen=True)
class Seek:
    """Where a page starts, from the counters: `total` requests; the page's rows lie in buckets `first`..`last`
    (inclusive, in sort order's terms: both None when the offset is past the end) and `before` requests precede
    bucket `first` in the sort order."""

    total: int
    first: int | None
    last: int | None
    before: int

    def window(self) -> tuple[datetime, datetime] | None:
        """[from, until) of start_time holding the whole page; None when the page is empty."""
        if self.first is None or self.last is None:
            return None
        low, high = min(self.first, self.last), max(self.first, self.last)
        return bucket_start(low), bucket_start(high + 1)


@cache
def _seek_statement(with_states: bool, descending: bool) -> Select[tuple[Any, Any, Any, Any]]:
    """Built once per shape, with bind parameters: building this select and its cache key took ~3 ms of Python
    per call (more than running it), while a reused statement's cache key is memoised."""
    where = [_BUCKETS.c.org_id == bindparam("org")]
    if with_states:
        where.append(_BUCKETS.c.state.in_(bindparam("states", expanding=True)))
    per_bucket = (
        select(_BUCKETS.c.bucket, func.sum(_BUCKETS.c.n).label("n"))
        .where(*where)
        .group_by(_BUCKETS.c.bucket)
        .subquery()
    )
    order = per_bucket.c.bucket.desc() if descending else per_bucket.c.bucket.asc()
    running = select(
        per_bucket.c.bucket,
        per_bucket.c.n,
        # ROWS, not the default RANGE: the buckets are distinct, and ROWS is the cheaper frame on both stores.
        func.sum(per_bucket.c.n).over(order_by=order, rows=(None, 0)).label("upto"),
        func.sum(per_bucket.c.n).over().label("total"),
    ).subquery()
    before = running.c.upto - running.c.n
    hit = (running.c.n > 0) & (running.c.upto > bindparam("offset")) & (before < bindparam("end"))
    return select(
        func.max(running.c.total),
        func.min(case((hit, running.c.bucket))),
        func.max(case((hit, running.c.bucket))),
        func.min(case((hit, before))),
    )


async def seek(
    session: AsyncSession, org_id: int, states: list[str], offset: int, limit: int, *, descending: bool
) -> Seek:
    """One statement: the total, and the buckets holding rows offset..offset+limit-1 of the start-sorted list.

    A running sum over the org's (state-filtered) buckets, in the list's order, gives each bucket's rows
    `upto` = requests in it and every bucket before it. The page's buckets are those whose range
    (upto - n, upto] meets [offset, offset + limit); the first of them says how many requests come before.
    """
    params: dict[str, Any] = {"org": org_id, "offset": offset, "end": offset + limit}
    if states:
        params["states"] = states
    result = await execute(session, _seek_statement(bool(states), descending), params)
    total, low, high, before = result.one()
    first, last = (high, low) if descending else (low, high)
    return Seek(int(total or 0), first, last, int(before or 0))


async def recount(session: AsyncSession, org_id: int | None = None) -> None:
    """Rebuild the counters from the rows (one org, or all): for rows written behind the repository's back,
    i.e. bulk loads and tests that move a start_time. Migration 0006 backfills with the same SQL."""
    day = day_number_sql(session.get_bind().dialect.name, "start_time")
    scoped = "" if org_id is None else "WHERE org_id = :org "
    await session.execute(delete(RequestBucket).where(*([] if org_id is None else [RequestBucket.org_id == org_id])))
    await session.execute(
        text(
            "INSERT INTO workflow_request_buckets (org_id, state, bucket, n) "
            f"SELECT org_id, state, {day}, COUNT(*) FROM workflow_requests {scoped}GROUP BY org_id, state, {day}"
        ),
        {} if org_id is None else {"org": org_id},
    )
