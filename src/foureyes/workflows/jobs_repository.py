"""Queries of the decision and execution paths, shaped to spend as few round trips as the invariants allow.

A request is read together with the configuration revision it was created under (one joined SELECT), a job is
claimed with `UPDATE … RETURNING` (no SELECT after the claim), and an outcome is recorded with a conditional
UPDATE that both proves the lease is still ours and writes the job. Rows changed with Core statements are
brought up to date in memory (`applied`) rather than re-read: the caller knows every value it wrote.
Every query names the org it reads or writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from foureyes.core.execute import execute
from foureyes.core.models import column_values, core_table
from foureyes.workflows.models import ExecutionJob, WorkflowConfigRevision, WorkflowRequest


@dataclass
class JobRun:
    """A job leased to this process's executor, with the request (and its configuration) its attempt executes."""

    id: int
    org_id: int
    request_id: str
    attempts: int
    idempotency_key: str
    row: WorkflowRequest | None = None
    config: dict[str, Any] | None = None  # the stored revision's config; None = the request's revision is 0


_JOB_COLUMNS = (
    ExecutionJob.id,
    ExecutionJob.org_id,
    ExecutionJob.request_id,
    ExecutionJob.attempts,
    ExecutionJob.idempotency_key,
)


def applied(row: WorkflowRequest, values: dict[str, Any]) -> WorkflowRequest:
    """Bring `row` up to date with values a Core UPDATE just wrote, without marking it dirty (no re-flush)."""
    for key, value in values.items():
        set_committed_value(row, key, value)
    return row


# Statements built once with bind parameters: building a statement and its cache key on every call cost more
# Python than running it (py-spy), while a reused statement's cache key is memoised.
_JOBS = core_table(ExecutionJob)
_REQUESTS = core_table(WorkflowRequest)
_ADD = insert(_JOBS).returning(_JOBS.c.id)
_WITH_CONFIG = select(WorkflowRequest, WorkflowConfigRevision.config).outerjoin(
    WorkflowConfigRevision,
    and_(
        WorkflowConfigRevision.org_id == WorkflowRequest.org_id,
        WorkflowConfigRevision.request_type == WorkflowRequest.request_type,
        WorkflowConfigRevision.revision == WorkflowRequest.config_revision,
    ),
)
_REQUEST_WITH_CONFIG = _WITH_CONFIG.where(
    WorkflowRequest.org_id == bindparam("org"), WorkflowRequest.id == bindparam("id")
)
_REQUESTS_WITH_CONFIG = _WITH_CONFIG.where(
    WorkflowRequest.org_id.in_(bindparam("orgs", expanding=True)),
    WorkflowRequest.id.in_(bindparam("ids", expanding=True)),
)
_SET_DETAILS = (
    update(_REQUESTS)
    .where(
        _REQUESTS.c.org_id == bindparam("org"),
        _REQUESTS.c.id == bindparam("request"),
        _REQUESTS.c.state == bindparam("in_state"),
    )
    .values(details=bindparam("new_details", type_=_REQUESTS.c.details.type))
)


@cache
def _settle_statement(columns: tuple[str, ...]) -> Any:
    """The job's outcome (`:set_<column>`), written only while `:owner` holds its lease."""
    return (
        update(_JOBS)
        .where(_JOBS.c.id == bindparam("job"), _JOBS.c.status == "leased", _JOBS.c.lease_owner == bindparam("owner"))
        .values({name: bindparam(f"set_{name}", type_=_JOBS.c[name].type) for name in columns})
    )


class JobsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # --- the request with its configuration -----------------------------------------------------------------
    async def add(self, job: ExecutionJob) -> None:
        """A request's execution job, its id read back into `job` (a Core INSERT: no unit of work)."""
        job.id = (await execute(self.s, _ADD, column_values(job))).scalar_one()

    async def request_with_config(
        self, org_id: int, request_id: str
    ) -> tuple[WorkflowRequest | None, dict[str, Any] | None]:
        """The request and the stored config of its revision (None for revision 0, the defaults)."""
        found = (await self.s.execute(_REQUEST_WITH_CONFIG, {"org": org_id, "id": request_id})).first()
        return (found[0], found[1]) if found is not None else (None, None)

    async def attach_requests(self, jobs: Sequence[JobRun]) -> None:
        """Fill each claimed job's request and config in one SELECT (a worker's batch)."""
        if not jobs:
            return
        params = {"orgs": sorted({j.org_id for j in jobs}), "ids": [j.request_id for j in jobs]}
        found = {
            (r.org_id, r.id): (r, config) for r, config in (await self.s.execute(_REQUESTS_WITH_CONFIG, params)).all()
        }
        for job in jobs:
            job.row, job.config = found.get((job.org_id, job.request_id), (None, None))

    # --- leases ---------------------------------------------------------------------------------------------
    async def claim(self, where: Iterable[Any], values: dict[str, Any]) -> list[JobRun]:
        """Lease the jobs matching `where`; the leased jobs as they are now (attempts already counted)."""
        result = await self.s.execute(
            update(ExecutionJob)
            .where(*where)
            .values(**values)
            .returning(*_JOB_COLUMNS)
            .execution_options(synchronize_session=False)
        )
        return [JobRun(r.id, r.org_id, r.request_id, r.attempts, r.idempotency_key) for r in result.all()]

    async def settle(self, job_id: int, owner: str, values: dict[str, Any]) -> bool:
        """Write the job's outcome only while `owner` still holds its lease; False when the lease was lost."""
        params = {f"set_{name}": value for name, value in values.items()}
        params.update(job=job_id, owner=owner)
        result = await execute(self.s, _settle_statement(tuple(values)), params)
        return bool(result.rowcount)

    async def set_details(self, org_id: int, request_id: str, state: str, details: dict[str, Any]) -> None:
        """Replace the details of a request still in `state` (the retry schedule of an executing request)."""
        await execute(
            self.s, _SET_DETAILS, {"org": org_id, "request": request_id, "in_state": state, "new_details": details}
        )
