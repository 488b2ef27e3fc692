"""Every workflow query. Each one names the org it reads or writes: tenants never see each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.execute import execute
from foureyes.core.models import column_values, core_table
from foureyes.workflows.counts import count_added, count_moved, counted_total, seek
from foureyes.workflows.listing import ListQuery, Shape, count_statement, page_statement, params_of, shape_of
from foureyes.workflows.models import ExecutionJob, RequestEvent, WorkflowConfigRevision, WorkflowRequest

# Statements built once with bind parameters (`:org` names the org in each): building a statement and its cache
# key on every call cost more Python than running it; a reused statement's cache key is memoised.
_REQUESTS = core_table(WorkflowRequest)
_ADD_REQUEST = insert(_REQUESTS)
_GET = select(WorkflowRequest).where(WorkflowRequest.org_id == bindparam("org"), WorkflowRequest.id == bindparam("id"))
_EVENTS = (
    select(RequestEvent)
    .where(RequestEvent.org_id == bindparam("org"), RequestEvent.request_id == bindparam("id"))
    .order_by(RequestEvent.id)
)
_JOB = select(ExecutionJob).where(ExecutionJob.org_id == bindparam("org"), ExecutionJob.request_id == bindparam("id"))
_OF_TYPE = (WorkflowConfigRevision.org_id == bindparam("org"), WorkflowConfigRevision.request_type == bindparam("type"))
_REVISIONS = (
    select(WorkflowConfigRevision)
    .where(*_OF_TYPE)
    .order_by(WorkflowConfigRevision.revision.desc())
    .limit(bindparam("limit", type_=Integer))
)
_REVISION = select(WorkflowConfigRevision).where(*_OF_TYPE, WorkflowConfigRevision.revision == bindparam("revision"))
_CONFIGS = core_table(WorkflowConfigRevision)
# Every create reads the revision in force: on the Core table, its number and stored form only (core_table).
_IN_FORCE = (
    select(_CONFIGS.c.revision, _CONFIGS.c.config)
    .where(_CONFIGS.c.org_id == bindparam("org"), _CONFIGS.c.request_type == bindparam("type"))
    .order_by(_CONFIGS.c.revision.desc())
    .limit(1)
)
_PENDING_EXPIRED = (
    select(WorkflowRequest)
    .where(WorkflowRequest.state == "AdminTask", WorkflowRequest.expires_at < bindparam("now"))
    .limit(bindparam("limit", type_=Integer))
)


@cache
def _transition_statement(columns: tuple[str, ...]) -> Any:
    """Compare-and-set on (state, version) writing `columns` (`:set_<column>`), returning start_time."""
    table = _REQUESTS
    return (
        update(table)
        .where(
            table.c.org_id == bindparam("org"),
            table.c.id == bindparam("request"),
            table.c.state == bindparam("from_state"),
            table.c.version == bindparam("from_version"),
        )
        .values({name: bindparam(f"set_{name}", type_=table.c[name].type) for name in ("version", *columns)})
        .returning(table.c.start_time)
    )


class WorkflowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # --- requests -------------------------------------------------------------------------------------------
    def add(self, row: object) -> None:
        self.s.add(row)

    async def add_request(self, row: WorkflowRequest) -> None:
        """A new request, counted in its org's per-(state, day) counters (counts.py) in the same transaction.

        A Core INSERT of the object's values: nothing is read back, so the unit of work (its flush, its
        bookkeeping at commit) is not needed. `row` stays a plain object the caller presents.
        """
        await execute(self.s, _ADD_REQUEST, column_values(row))
        await count_added(self.s, row.org_id, row.state, row.start_time)

    async def flush(self) -> None:
        await self.s.flush()

    async def get(self, org_id: int, request_id: str) -> WorkflowRequest | None:
        return await self.s.scalar(_GET, {"org": org_id, "id": request_id})

    async def transition(
        self, org_id: int, request_id: str, *, from_state: str, version: int, values: dict[str, Any]
    ) -> bool:
        """Compare-and-set on (state, version): exactly one of several concurrent deciders succeeds."""
        # RETURNING start_time names the counter bucket to move (counts.py) without another read; a row back
        # means the compare-and-set matched (rowcount is unreliable alongside RETURNING).
        params = {f"set_{name}": value for name, value in values.items()}
        params.update(
            org=org_id, request=request_id, from_state=from_state, from_version=version, set_version=version + 1
        )
        started = (await execute(self.s, _transition_statement(tuple(values)), params)).scalar_one_or_none()
        if started is None:
            return False
        if "state" in values:
            await count_moved(self.s, org_id, from_state, values["state"], started)
        return True

    async def search(self, q: ListQuery) -> tuple[Sequence[WorkflowRequest], int]:
        shape = shape_of(q)
        params = params_of(q, shape)
        offset = q.page * q.limit
        if shape.org_and_states_only and q.sort_by == "startDate":
            # Seek: the day counters say which days hold the page and how many requests precede them, so the
            # page is read from those days with a residual offset under a day's requests (counts.seek).
            found = await seek(self.s, q.org_id, q.states, offset, q.limit, descending=q.descending)
            window = found.window()
            if window is None:
                return [], found.total
            windowed = {**params, "window_from": window[0], "window_until": window[1]}
            rows = await self._page(q, shape, windowed, offset - found.before, windowed=True)
            if len(rows) == q.limit or offset + len(rows) >= found.total:
                return rows, found.total
            # A short page the counters say is not the last: the rows moved between the two statements (they
            # see separate snapshots under PostgreSQL's READ COMMITTED). Rare; walk the offset as below.
            return await self._page(q, shape, params, offset), found.total
        if shape.org_and_states_only:
            total = await counted_total(self.s, q.org_id, q.states)
        else:
            total = int(await self.s.scalar(count_statement(shape), params) or 0)
        return await self._page(q, shape, params, offset), total

    async def _page(
        self, q: ListQuery, shape: Shape, params: dict[str, Any], offset: int, *, windowed: bool = False
    ) -> Sequence[WorkflowRequest]:
        """The page of `q` (its filters' values in `params`), `offset` rows skipped."""
        stmt = page_statement(shape, q.sort_by, q.descending, windowed)
        return (await self.s.scalars(stmt, {**params, "offset": offset, "limit": q.limit})).all()

    async def expire_pending(self, now: datetime, limit: int = 500) -> list[WorkflowRequest]:
        return list((await self.s.scalars(_PENDING_EXPIRED, {"now": now, "limit": limit})).all())

    # --- timeline -------------------------------------------------------------------------------------------
    async def events(self, org_id: int, request_id: str) -> Sequence[RequestEvent]:
        return (await self.s.scalars(_EVENTS, {"org": org_id, "id": request_id})).all()

    # --- jobs -----------------------------------------------------------------------------------------------
    async def job_for(self, org_id: int, request_id: str) -> ExecutionJob | None:
        return await self.s.scalar(_JOB, {"org": org_id, "id": request_id})

    # --- configuration --------------------------------------------------------------------------------------
    async def current_config(self, org_id: int, request_type: str) -> WorkflowConfigRevision | None:
        return await self.s.scalar(_REVISIONS, {"org": org_id, "type": request_type, "limit": 1})

    async def config_in_force(self, org_id: int, request_type: str) -> tuple[int, dict[str, Any]] | None:
        """(revision, stored configuration) of the latest revision, or None while the defaults apply."""
        row = (await execute(self.s, _IN_FORCE, {"org": org_id, "type": request_type})).first()
        return None if row is None else (row.revision, row.config)

    async def config_revisions(
        self, org_id: int, request_type: str, limit: int = 50
    ) -> Sequence[WorkflowConfigRevision]:
        return (await self.s.scalars(_REVISIONS, {"org": org_id, "type": request_type, "limit": limit})).all()

    async def config_at(self, org_id: int, request_type: str, revision: int) -> WorkflowConfigRevision | None:
        return await self.s.scalar(_REVISION, {"org": org_id, "type": request_type, "revision": revision})
