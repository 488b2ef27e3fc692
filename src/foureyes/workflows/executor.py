"""The durable executor: lease a job, make the approved downstream call once, record the outcome.

Exactly-one-effect rests on three things: the job is committed with the approval; a job is run only by the
holder of its lease (a conditional UPDATE decides who), and every attempt carries the same idempotency key,
so a retry after a crash mid-call is recognised downstream (badges: 809 with the original result).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update

from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.dialect import lock_for_update
from foureyes.core.logging import get_logger
from foureyes.workflows.models import APPROVED, EXECUTING, FAILED, PENDING, ExecutionJob, WorkflowRequest
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.transitions import announce, config_for, note
from foureyes.workflows.types import TYPES
from foureyes.workflows.verdict import Verdict, backoff_seconds, judge

log = get_logger("foureyes.executor")
MAX_BODY_CHARS = 20_000
DROPPED_RESPONSE_HEADERS = {"set-cookie", "authorization", "www-authenticate"}


@dataclass
class Attempt:
    status: int | None
    headers: dict[str, list[str]]
    body: Any
    verdict: Verdict


class Executor:
    """One per process (see `executor_for`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.owner = f"exec-{uuid.uuid4().hex[:12]}"
        self._tasks: set[asyncio.Task[bool]] = set()

    # --- entry points ---------------------------------------------------------------------------------------
    async def run_soon(self, job_id: int, wait_seconds: float) -> None:
        """Start the job now and wait at most `wait_seconds` for its first attempt, whoever runs it.

        A worker woken by the same commit (NOTIFY, or this process's wake event) may claim the job first; we
        then wait for that worker to record its attempt rather than answer while the call is still in flight.
        """
        deadline = asyncio.get_running_loop().time() + wait_seconds
        task = asyncio.create_task(self.run(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            claimed = await asyncio.wait_for(asyncio.shield(task), timeout=wait_seconds)
        except TimeoutError:
            log.info("execution continues in background", job=job_id)
            return
        if not claimed:
            await self._await_attempt(job_id, deadline)

    async def _await_attempt(self, job_id: int, deadline: float) -> None:
        """Poll until the job is no longer leased (its holder recorded an attempt) or the deadline passes."""
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            async with self.ctx.db.read() as s:
                status = await s.scalar(select(ExecutionJob.status).where(ExecutionJob.id == job_id))
            if status != "leased":
                return
            await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0.0)))

    async def run_due(self, limit: int = 10) -> int:
        """Claim up to `limit` due jobs (new, retry-due or with an expired lease) and run them concurrently."""
        claimed = await self._claim_due(limit)
        if claimed:
            await asyncio.gather(*(self._execute(job_id) for job_id in claimed))
        return len(claimed)

    async def run(self, job_id: int) -> bool:
        """Run the job if it is due and we win its lease; False when someone else holds it (or it is not due)."""
        if not await self._claim(job_id):
            return False
        await self._execute(job_id)
        return True

    async def drain(self) -> None:
        """Wait for in-flight executions (graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- leasing --------------------------------------------------------------------------------------------
    def _lease_values(self) -> dict[str, Any]:
        now = utcnow()
        return {
            "status": "leased",
            "lease_owner": self.owner,
            "lease_until": now + timedelta(seconds=self.ctx.settings.worker_lease_seconds),
            "attempts": ExecutionJob.attempts + 1,
            "updated_at": now,
        }

    @staticmethod
    def _due(now: Any) -> Any:
        return or_(
            (ExecutionJob.status == "ready") & (ExecutionJob.next_run_at <= now),
            (ExecutionJob.status == "leased") & (ExecutionJob.lease_until < now),
        )

    async def _claim(self, job_id: int) -> bool:
        async with self.ctx.db.write() as s:
            result = await s.execute(
                update(ExecutionJob)
                .where(ExecutionJob.id == job_id, self._due(utcnow()))
                .values(**self._lease_values())
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _claim_due(self, limit: int) -> list[int]:
        async with self.ctx.db.write() as s:
            stmt = select(ExecutionJob.id).where(self._due(utcnow())).order_by(ExecutionJob.next_run_at).limit(limit)
            ids = list((await s.scalars(lock_for_update(stmt, s, skip_locked=True))).all())
            if ids:
                await s.execute(
                    update(ExecutionJob)
                    .where(ExecutionJob.id.in_(ids))
                    .values(**self._lease_values())
                    .execution_options(synchronize_session=False)
                )
            return ids

    # --- one attempt ----------------------------------------------------------------------------------------
    async def _execute(self, job_id: int) -> None:
        async with self.ctx.db.read() as s:
            job = await s.get(ExecutionJob, job_id)
            row = await WorkflowRepository(s).get(job.org_id, job.request_id) if job else None
        if job is None or row is None:
            return
        rtype = TYPES[row.request_type]
        started = asyncio.get_running_loop().time()
        attempt = await self._call(row, job.idempotency_key, rtype.key_in_body)
        self.ctx.metrics.execution_latency.labels(row.request_type).observe(asyncio.get_running_loop().time() - started)
        self.ctx.metrics.executions.labels(row.request_type, attempt.verdict.outcome).inc()
        await self._record(job_id, attempt)

    async def _call(self, row: WorkflowRequest, key: str, key_in_body: bool) -> Attempt:
        payload = row.payload
        headers = {k: str(v) for k, v in payload.get("headers", {}).items()}
        for name, sealed in row.sealed_headers.items():
            headers[name] = self.ctx.secret_box.open(sealed)
        if not key_in_body:
            headers["Idempotency-Key"] = key
        headers.setdefault("X-CAP-API-AUTH-ORG-ID", str(row.org_id))
        params = {
            k: ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in payload.get("queryParams", {}).items()
        }
        url = row.target_base + payload["path"]
        try:
            response = await self.ctx.downstream.request(
                payload["method"], url, params=params, headers=headers, json=payload.get("body")
            )
        except httpx.TimeoutException:
            return Attempt(None, {}, None, Verdict("transient", "downstream timed out"))
        except httpx.HTTPError as exc:
            return Attempt(None, {}, None, Verdict("transient", f"downstream unreachable: {type(exc).__name__}"))
        body = _body_of(response)
        out_headers: dict[str, list[str]] = {}
        # Raw names keep the downstream's spelling (the documented output shows X-CAP-REQUEST-ID, not lower case).
        for raw_name, raw_value in response.headers.raw:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            if name.lower() not in DROPPED_RESPONSE_HEADERS and len(out_headers) < 50:
                out_headers.setdefault(name, []).append(value)
        return Attempt(response.status_code, out_headers, body, judge(response.status_code, body))

    async def _record(self, job_id: int, attempt: Attempt) -> None:
        """Write the attempt's outcome, only if we still hold the lease (else another worker owns the job)."""
        settings = self.ctx.settings
        async with self.ctx.db.write() as s:
            job = (await s.scalars(lock_for_update(select(ExecutionJob).where(ExecutionJob.id == job_id), s))).one()
            if job.status != "leased" or job.lease_owner != self.owner:
                log.warning("lease lost before recording; the new owner will record", job=job_id)
                return
            repo = WorkflowRepository(s)
            row = await repo.get(job.org_id, job.request_id)
            if row is None or row.state != EXECUTING:
                job.status = "done"
                return
            output = {"status": attempt.status, "headers": attempt.headers, "body": attempt.body}
            outcome = attempt.verdict.outcome
            final = outcome != "transient" or job.attempts >= settings.executor_max_attempts
            await note(
                repo,
                row,
                "attempt",
                "system:executor",
                {
                    "attempt": job.attempts,
                    "outcome": outcome,
                    "status": attempt.status,
                    "reason": attempt.verdict.reason,
                    "final": final,
                },
            )
            now = utcnow()
            job.updated_at = now
            job.lease_owner = None
            job.lease_until = None
            if not final:
                job.status = "ready"
                job.last_error = attempt.verdict.reason
                job.next_run_at = now + timedelta(
                    seconds=backoff_seconds(job.attempts, settings.executor_base_backoff_seconds)
                )
                row.details = {
                    **row.details,
                    "IntouchAPITask_Output": output,
                    "IntouchAPITask_Retry": {
                        "attempts": job.attempts,
                        "nextAttemptAt": job.next_run_at.strftime("%Y-%m-%dT%H:%M:%S"),
                    },
                }
                return
            new_state = APPROVED if outcome == "success" else FAILED
            job.status = "done" if outcome == "success" else "failed"
            job.last_error = attempt.verdict.reason
            details = {k: v for k, v in row.details.items() if k != "IntouchAPITask_Retry"}
            details["IntouchAPITask_Output"] = output
            ok = await repo.transition(
                row.org_id,
                row.id,
                from_state=EXECUTING,
                version=row.version,
                values={
                    "state": new_state,
                    "end_time": now,
                    "details": details,
                    "failure_reason": None if outcome == "success" else attempt.verdict.reason,
                },
            )
            if not ok:
                return
            await s.refresh(row)
            await note(repo, row, new_state, "system:executor", {"reason": attempt.verdict.reason})
            config = await config_for(repo, row, settings.own_base_url)
            last = row.approvals[-1] if row.approvals else {}
            await announce(
                repo, row, config, previous_state=PENDING, comment=last.get("message"), checker_id=row.checker_id
            )


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:MAX_BODY_CHARS]


def executor_for(ctx: AppContext) -> Executor:
    """The process's single executor (created on first use)."""
    existing = ctx.extensions.get("executor")
    if isinstance(existing, Executor):
        return existing
    executor = Executor(ctx)
    ctx.extensions["executor"] = executor
    return executor
