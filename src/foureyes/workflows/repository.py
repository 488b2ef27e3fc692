"""Every workflow query. Each one names the org it reads or writes: tenants never see each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.workflows.counts import count_added, count_moved, counted_total, seek
from foureyes.workflows.models import ExecutionJob, RequestEvent, WorkflowConfigRevision, WorkflowRequest


@dataclass
class ListQuery:
    """Filters of GET …/requests, already parsed. `unit_scopes` None = the whole org."""

    org_id: int
    unit_scopes: list[str] | None = None
    visible_maker: tuple[str, int] | None = None
    maker_id: int | None = None
    request_type: str | None = None
    states: list[str] = field(default_factory=list)
    concept_id: str | None = None
    zone_id: str | None = None
    store_id: str | None = None
    till_id: str | None = None
    start_from: datetime | None = None
    start_before: datetime | None = None
    sort_by: str = "startDate"
    descending: bool = True
    page: int = 0
    limit: int = 10


def _org_and_states_only(q: ListQuery) -> bool:
    """The list filters nothing but the org (whole-org visibility) and optionally states: counters answer."""
    return (
        q.unit_scopes is None
        and q.maker_id is None
        and not q.request_type
        and not (q.concept_id or q.zone_id or q.store_id or q.till_id)
        and q.start_from is None
        and q.start_before is None
    )


class WorkflowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # --- requests -------------------------------------------------------------------------------------------
    def add(self, row: object) -> None:
        self.s.add(row)

    async def add_request(self, row: WorkflowRequest) -> None:
        """A new request, counted in its org's per-(state, day) counters (counts.py) in the same transaction."""
        self.s.add(row)
        await count_added(self.s, row.org_id, row.state, row.start_time)

    async def flush(self) -> None:
        await self.s.flush()

    async def get(self, org_id: int, request_id: str) -> WorkflowRequest | None:
        return await self.s.scalar(
            select(WorkflowRequest).where(WorkflowRequest.org_id == org_id, WorkflowRequest.id == request_id)
        )

    async def transition(
        self, org_id: int, request_id: str, *, from_state: str, version: int, values: dict[str, Any]
    ) -> bool:
        """Compare-and-set on (state, version): exactly one of several concurrent deciders succeeds."""
        # RETURNING start_time names the counter bucket to move (counts.py) without another read; a row back
        # means the compare-and-set matched (rowcount is unreliable alongside RETURNING).
        started = (
            await self.s.execute(
                update(WorkflowRequest)
                .where(
                    WorkflowRequest.org_id == org_id,
                    WorkflowRequest.id == request_id,
                    WorkflowRequest.state == from_state,
                    WorkflowRequest.version == version,
                )
                .values(version=version + 1, **values)
                .returning(WorkflowRequest.start_time)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if started is None:
            return False
        if "state" in values:
            await count_moved(self.s, org_id, from_state, values["state"], started)
        return True

    async def search(self, q: ListQuery) -> tuple[Sequence[WorkflowRequest], int]:
        conditions = self._conditions(q)
        offset = q.page * q.limit
        if _org_and_states_only(q) and q.sort_by == "startDate":
            # Seek: the day counters say which days hold the page and how many requests precede them, so the
            # page is read from those days with a residual offset under a day's requests (counts.seek).
            found = await seek(self.s, q.org_id, q.states, offset, q.limit, descending=q.descending)
            window = found.window()
            if window is None:
                return [], found.total
            bounded = [WorkflowRequest.start_time >= window[0], WorkflowRequest.start_time < window[1]]
            rows = await self._page(q, [*conditions, *bounded], offset - found.before)
            if len(rows) == q.limit or offset + len(rows) >= found.total:
                return rows, found.total
            # A short page the counters say is not the last: the rows moved between the two statements (they
            # see separate snapshots under PostgreSQL's READ COMMITTED). Rare; walk the offset as below.
            return await self._page(q, conditions, offset), found.total
        if _org_and_states_only(q):
            total = await counted_total(self.s, q.org_id, q.states)
        else:
            total = int(await self.s.scalar(select(func.count()).select_from(WorkflowRequest).where(*conditions)) or 0)
        return await self._page(q, conditions, offset), total

    async def _page(
        self, q: ListQuery, conditions: list[ColumnElement[bool]], offset: int
    ) -> Sequence[WorkflowRequest]:
        """The page: ids in the list's order, `offset` skipped, then the rows of those ids."""
        column = WorkflowRequest.start_time if q.sort_by == "startDate" else WorkflowRequest.end_time
        order: list[Any] = (
            [column.desc(), WorkflowRequest.id.desc()] if q.descending else [column.asc(), WorkflowRequest.id.asc()]
        )
        # Deferred join: the offset is walked over ids in an index (no table/heap reads for skipped rows), and
        # only the page's rows are fetched whole.
        page = (select(WorkflowRequest.id).where(*conditions).order_by(*order).offset(offset).limit(q.limit)).subquery()
        return (
            await self.s.scalars(select(WorkflowRequest).join(page, WorkflowRequest.id == page.c.id).order_by(*order))
        ).all()

    @staticmethod
    def _conditions(q: ListQuery) -> list[ColumnElement[bool]]:
        c: list[ColumnElement[bool]] = [WorkflowRequest.org_id == q.org_id]
        if q.unit_scopes is not None:
            visible: list[ColumnElement[bool]] = [
                WorkflowRequest.unit_path.startswith(p, autoescape=True) for p in q.unit_scopes
            ]
            if q.visible_maker is not None:
                kind, maker = q.visible_maker
                visible.append(and_(WorkflowRequest.maker_kind == kind, WorkflowRequest.maker_id == maker))
            c.append(or_(*visible) if visible else WorkflowRequest.id.is_(None))
        if q.maker_id is not None:
            c.append(WorkflowRequest.maker_id == q.maker_id)
        if q.request_type:
            c.append(WorkflowRequest.request_type == q.request_type)
        if q.states:
            c.append(WorkflowRequest.state.in_(q.states))
        for column, value in (
            (WorkflowRequest.concept_id, q.concept_id),
            (WorkflowRequest.zone_id, q.zone_id),
            (WorkflowRequest.store_id, q.store_id),
            (WorkflowRequest.till_id, q.till_id),
        ):
            if value:
                c.append(column == value)
        if q.start_from is not None:
            c.append(WorkflowRequest.start_time >= q.start_from)
        if q.start_before is not None:
            c.append(WorkflowRequest.start_time < q.start_before)
        return c

    async def expire_pending(self, now: datetime, limit: int = 500) -> list[WorkflowRequest]:
        rows = (
            await self.s.scalars(
                select(WorkflowRequest)
                .where(WorkflowRequest.state == "AdminTask", WorkflowRequest.expires_at < now)
                .limit(limit)
            )
        ).all()
        return list(rows)

    # --- timeline -------------------------------------------------------------------------------------------
    async def events(self, org_id: int, request_id: str) -> Sequence[RequestEvent]:
        return (
            await self.s.scalars(
                select(RequestEvent)
                .where(RequestEvent.org_id == org_id, RequestEvent.request_id == request_id)
                .order_by(RequestEvent.id)
            )
        ).all()

    # --- jobs -----------------------------------------------------------------------------------------------
    async def job_for(self, org_id: int, request_id: str) -> ExecutionJob | None:
        return await self.s.scalar(
            select(ExecutionJob).where(ExecutionJob.org_id == org_id, ExecutionJob.request_id == request_id)
        )

    # --- configuration --------------------------------------------------------------------------------------
    async def current_config(self, org_id: int, request_type: str) -> WorkflowConfigRevision | None:
        return await self.s.scalar(
            select(WorkflowConfigRevision)
            .where(WorkflowConfigRevision.org_id == org_id, WorkflowConfigRevision.request_type == request_type)
            .order_by(WorkflowConfigRevision.revision.desc())
            .limit(1)
        )

    async def config_revisions(
        self, org_id: int, request_type: str, limit: int = 50
    ) -> Sequence[WorkflowConfigRevision]:
        return (
            await self.s.scalars(
                select(WorkflowConfigRevision)
                .where(WorkflowConfigRevision.org_id == org_id, WorkflowConfigRevision.request_type == request_type)
                .order_by(WorkflowConfigRevision.revision.desc())
                .limit(limit)
            )
        ).all()

    async def config_at(self, org_id: int, request_type: str, revision: int) -> WorkflowConfigRevision | None:
        return await self.s.scalar(
            select(WorkflowConfigRevision).where(
                WorkflowConfigRevision.org_id == org_id,
                WorkflowConfigRevision.request_type == request_type,
                WorkflowConfigRevision.revision == revision,
            )
        )
