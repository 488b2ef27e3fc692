"""The maker-checker engine: create, decide, cancel (contract §4). Reads live in queries.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.service import lock_chain
from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, Conflict, ErrorItem, Forbidden, NotFound, many
from foureyes.core.ids import uuid7
from foureyes.identity.principal import Principal
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.dryrun import dry_run
from foureyes.workflows.executor import executor_for
from foureyes.workflows.jobs_repository import JobRun, JobsRepository, applied
from foureyes.workflows.models import CANCELLED, EXECUTING, PENDING, REJECTED, ExecutionJob, WorkflowRequest
from foureyes.workflows.notify import announce_job, start_job
from foureyes.workflows.presenter import request_resource
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.schemas import CreateRequestBody, DecisionBody
from foureyes.workflows.transitions import announce, note, resolved_config
from foureyes.workflows.types import RequestType, lookup
from foureyes.workflows.validation import auto_approves, check_entity, check_maker, check_task


def request_type(name: str) -> RequestType:
    rtype = lookup(name)
    if rtype is None:
        raise AppError(2009, f"Request type {name[:60]!r} is not supported", "requestType")
    return rtype


class WorkflowService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def current_config(self, org_id: int, rtype: RequestType) -> tuple[WorkflowConfig, int]:
        async with self.ctx.db.read() as s:
            config, revision, _ = await self._current_config(s, org_id, rtype)
        return config, revision

    async def _current_config(
        self, s: AsyncSession, org_id: int, rtype: RequestType
    ) -> tuple[WorkflowConfig, int, dict[str, Any] | None]:
        """(config in force, its revision, its stored form — None for the defaults of revision 0)."""
        in_force = await WorkflowRepository(s).config_in_force(org_id, rtype.name)
        if in_force is None:
            return WorkflowConfig(allowedHosts=[self.ctx.settings.own_base_url]), 0, None
        revision, stored = in_force
        return WorkflowConfig.model_validate(stored), revision, stored

    async def create(self, maker: Principal, type_name: str, body: CreateRequestBody) -> dict[str, Any]:
        """ValidateMakerAccess → ValidatePayload → store in AdminTask, or execute at once when auto-approved."""
        rtype = request_type(type_name)
        if not maker.holds("CanMakeRequest"):
            raise Forbidden("The CanMakeRequest permission is required to raise requests")
        # One read transaction for everything validation reads: the configuration in force, the org units and
        # the dry run of the downstream effect.
        async with self.ctx.db.read() as s:
            config, revision, stored_config = await self._current_config(s, maker.org_id, rtype)
            if not config.enabled:
                raise AppError(2021, f"The {rtype.name} workflow is not active for this org", "requestType")
            unit_path, problems = await check_entity(s, maker.org_id, body.entityInfo)
            if unit_path is not None and not check_maker(maker, unit_path):
                raise Forbidden("CanMakeRequest does not cover the org unit named in entityInfo")
            checked, task_problems = check_task(rtype, body.payload.task, config, self.ctx.secret_box)
            problems.extend(task_problems)
            dry: dict[str, Any] | None = None
            if checked is not None and not problems:
                dry, dry_problems = await dry_run(self.ctx, s, maker.org_id, rtype, checked.stored, checked.target_base)
                problems.extend(dry_problems)
        if problems or checked is None or unit_path is None:
            raise many(400, problems or [ErrorItem(2008, "Invalid payload")])

        auto = auto_approves(config, checked.stored)
        now = utcnow()
        ids = body.entityInfo.ids()
        details: dict[str, Any] = {"ValidateMakerAccess_Output": True, "ValidatePayload_Output": True}
        if dry is not None:
            details["ValidatePayload_DryRun"] = dry
        if auto:
            details["AutoApproved"] = True
        row = WorkflowRequest(
            id=uuid7(),
            org_id=maker.org_id,
            request_type=rtype.name,
            state=EXECUTING if auto else PENDING,
            maker_kind=maker.kind,
            maker_id=maker.id,
            maker_name=maker.name,
            concept_id=ids["conceptId"],
            zone_id=ids["zoneId"],
            store_id=ids["storeId"],
            till_id=ids["tillId"],
            unit_path=unit_path,
            start_time=now,
            end_time=None,
            expires_at=now + timedelta(hours=config.pendingTtlHours) if config.pendingTtlHours and not auto else None,
            config_revision=revision,
            payload=checked.stored,
            details=details,
            sealed_headers=checked.sealed_headers,
            target_base=checked.target_base,
            approvals=[],
            checker_id=None,
            version=1,
        )
        enqueued, run = False, None
        async with self.ctx.db.write() as s:
            await lock_chain(s, maker.org_id)  # the org's audit head first, as in every writing transaction
            repo = WorkflowRepository(s)
            await repo.add_request(row)
            await note(
                repo,
                row,
                "created",
                maker.actor,
                {"autoApproved": auto, "configRevision": revision, "source": body.source},
            )
            if not auto:  # an auto-approved request is announced once, with its outcome (executor)
                # The revision read above is the one the request is created under: no second read of it.
                await announce(
                    repo, row, resolved_config(stored_config, self.ctx.settings.own_base_url), previous_state=None
                )
            if auto:
                enqueued, run = True, await self._enqueue(repo, row, rtype, stored_config)
        self.ctx.metrics.requests_created.labels(rtype.name).inc()
        if enqueued:
            return await self._after_job(maker.org_id, row.id, run)
        return request_resource(row)

    async def decide(self, checker: Principal, type_name: str, body: DecisionBody) -> dict[str, Any]:
        """ValidateCheckerAccess, then reject (terminal) or approve → IntouchAPITask (job committed with it)."""
        rtype = request_type(type_name)
        if body.actionName.strip().lower() != "admintask":
            raise AppError(2007, "actionName must be AdminTask", "actionName")
        if not checker.holds("CanCheckRequest"):
            raise Forbidden("The CanCheckRequest permission is required to decide requests")
        decision = body.payload.admin
        enqueued, run = False, None
        async with self.ctx.db.write() as s:
            repo = WorkflowRepository(s)
            row, stored = await JobsRepository(s).request_with_config(checker.org_id, body.requestId)
            if row is None or row.request_type != rtype.name:
                raise NotFound(2007, "No such request for this request type", "requestId")
            if row.state != PENDING:
                raise Conflict(2002, f"The request is already {row.state}; the workflow is completed", "requestId")
            if row.expires_at is not None and row.expires_at <= utcnow():
                raise Conflict(2002, "The request expired before a decision", "requestId")
            stored_config = resolved_config(stored, self.ctx.settings.own_base_url)
            config = WorkflowConfig.model_validate(stored_config)
            self._check_checker(checker, row, config)
            approval = {
                "checkerId": checker.id,
                "checkerName": checker.name,
                "decision": decision.actionDecision,
                "message": decision.actionMessage,
                "at": utcnow().strftime("%Y-%m-%dT%H:%M:%S"),
            }
            details = {**row.details, "AdminTask-Payload": decision.model_dump(), "ValidateCheckerAccess_Output": True}
            values: dict[str, Any] = {"approvals": [*row.approvals, approval], "checker_id": checker.id}
            if decision.actionDecision == "rejected":
                values.update(state=REJECTED, end_time=utcnow(), details={**details, "AdminTask_Output": REJECTED})
            elif len(row.approvals) + 1 >= config.requiredApprovals:
                values.update(state=EXECUTING, details={**details, "AdminTask_Output": "approved"})
            else:
                values.update(details=details)
            await lock_chain(s, row.org_id)  # the org's audit head first, as in every writing transaction
            if not await repo.transition(row.org_id, row.id, from_state=PENDING, version=row.version, values=values):
                raise Conflict(2002, "Another decision on this request won", "requestId")
            applied(row, {**values, "version": row.version + 1})  # what we wrote: no re-read
            await note(
                repo,
                row,
                "decision",
                checker.actor,
                {
                    "decision": decision.actionDecision,
                    "message": decision.actionMessage,
                    "approvals": len(row.approvals),
                },
            )
            # An approval is announced by the executor once the outcome is known: the documented events go
            # AdminTask → approved|failed, with the checker's comment; IntouchAPITask is never announced.
            if row.state == REJECTED:
                await announce(
                    repo,
                    row,
                    stored_config,
                    previous_state=PENDING,
                    comment=decision.actionMessage,
                    checker_id=checker.id,
                )
            if row.state == EXECUTING:
                enqueued, run = True, await self._enqueue(repo, row, rtype, stored)
        self.ctx.metrics.requests_decided.labels(rtype.name, decision.actionDecision).inc()
        if enqueued:
            return await self._after_job(checker.org_id, row.id, run)
        return request_resource(row)  # rejected, or waiting for more approvals: the row as committed

    async def cancel(self, maker: Principal, request_id: str, reason: str) -> dict[str, Any]:
        """The maker withdraws their own pending request."""
        async with self.ctx.db.write() as s:
            repo = WorkflowRepository(s)
            row, stored = await JobsRepository(s).request_with_config(maker.org_id, request_id)
            if row is None:
                raise NotFound(2007, "No such request", "requestId")
            if (row.maker_kind, row.maker_id) != (maker.kind, maker.id):
                raise Forbidden("Only the maker may cancel their request")
            if row.state == PENDING:
                await lock_chain(s, row.org_id)  # the org's audit head first, as in every writing transaction
            values: dict[str, Any] = {"state": CANCELLED, "end_time": utcnow()}
            if row.state != PENDING or not await repo.transition(
                row.org_id, row.id, from_state=PENDING, version=row.version, values=values
            ):
                raise Conflict(2002, f"The request is already {row.state}", "requestId")
            applied(row, {**values, "version": row.version + 1})
            await note(repo, row, CANCELLED, maker.actor, {"reason": reason})
            await announce(
                repo,
                row,
                resolved_config(stored, self.ctx.settings.own_base_url),
                previous_state=PENDING,
                comment=reason,
            )
            return request_resource(row)

    async def _after_job(self, org_id: int, request_id: str, run: JobRun | None) -> dict[str, Any]:
        """Start the committed job; answer from the request as its first attempt recorded it when that ran
        here, else read the request (the workers run it, or the attempt is still running)."""
        recorded = await start_job(self.ctx, run)
        if recorded is not None:
            return request_resource(recorded)
        return await self.reread(org_id, request_id)

    async def reread(self, org_id: int, request_id: str) -> dict[str, Any]:
        async with self.ctx.db.read() as s:
            row = await WorkflowRepository(s).get(org_id, request_id)
        if row is None:
            raise NotFound(2007, "No such request", "requestId")
        return request_resource(row)

    @staticmethod
    def _check_checker(checker: Principal, row: WorkflowRequest, config: WorkflowConfig) -> None:
        if not checker.can("CanCheckRequest", row.unit_path):
            raise Forbidden("CanCheckRequest does not cover this request's org unit")
        if (checker.kind, checker.id) == (row.maker_kind, row.maker_id) and not config.makerCanCheck:
            raise Forbidden("The maker of a request cannot decide it")
        if any(a.get("checkerId") == checker.id for a in row.approvals):
            raise Conflict(2002, "You have already approved this request; another checker must decide", "requestId")

    async def _enqueue(
        self, repo: WorkflowRepository, row: WorkflowRequest, rtype: RequestType, stored_config: dict[str, Any] | None
    ) -> JobRun | None:
        """Add the request's job in the caller's transaction.

        When callers wait for the first attempt (`decision_wait_seconds` > 0) the job is committed already leased
        to this process's executor and returned with the request and config the attempt needs: no claim
        transaction, no read back. Otherwise it is committed ready and the workers are notified (None).
        """
        now = utcnow()
        body = row.payload.get("body")
        key = str(body.get("requestId")) if rtype.key_in_body and isinstance(body, dict) else row.id
        job = ExecutionJob(
            org_id=row.org_id,
            request_id=row.id,
            status="ready",
            attempts=0,
            next_run_at=now,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )
        run_here = self.ctx.settings.decision_wait_seconds > 0
        if run_here:
            executor_for(self.ctx).lease_new(job)
        await JobsRepository(repo.s).add(job)
        if not run_here:
            await announce_job(repo.s)  # wakes idle workers when this transaction commits
            return None
        return JobRun(job.id, job.org_id, job.request_id, job.attempts, key, row=row, config=stored_config)
