"""The durable executor: lease a job, make the approved downstream call once, record the outcome.

Exactly-one-effect rests on three things: the job is committed with the approval; a job is run only by the
holder of its lease (a conditional UPDATE decides who, or the approval commits the job already leased to the
process that runs its first attempt), and every attempt carries the same idempotency key, so a retry after a
crash mid-call is recognised downstream (badges: 809 with the original result).

Round trips: the first attempt reads nothing back (the approving request hands over the request and config it
holds), a worker's claim is one `UPDATE … RETURNING` plus one joined SELECT of the requests, and an outcome is
one write transaction whose conditional UPDATE of the job proves the lease (jobs_repository.py).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select

from foureyes.audit.service import lock_chain
from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.dialect import lock_for_update
from foureyes.core.logging import get_logger
from foureyes.workflows.jobs_repository import JobRun, JobsRepository, applied
from foureyes.workflows.models import APPROVED, EXECUTING, FAILED, PENDING, ExecutionJob, WorkflowRequest
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.transitions import announce, note, notes, resolved_config
from foureyes.workflows.types import TYPES
from foureyes.workflows.verdict import Verdict, backoff_seconds, judge

log = get_logger("foureyes.executor")
MAX_BODY_CHARS = 20_000
DROPPED_RESPONSE_HEADERS = {"set-cookie", "authorization", "www-authenticate"}
# The connection failed after the call was sent and before any answer: most often a keep-alive connection the
# downstream closed (its idle timeout) just as we reused it. The call is made once more at once, on a fresh
# connection and with the same idempotency key, instead of waiting for a retry's backoff; Go's net/http does the
# same for requests that carry an Idempotency-Key. Connect errors and timeouts are not among these.
DROPPED_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


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
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- entry points ---------------------------------------------------------------------------------------
    def lease_new(self, job: ExecutionJob) -> None:
        """Lease a job being created to this executor for its first attempt, so no claim transaction is needed.

        The approval's transaction commits the job already leased here; the request that approved it then runs
        the attempt (`run_soon`). Workers skip a leased job until its lease runs out, exactly as after a claim,
        so a crash right after the commit only delays the attempt by one lease.
        """
        now = utcnow()
        job.status, job.lease_owner, job.attempts = "leased", self.owner, 1
        job.lease_until = now + timedelta(seconds=self.ctx.settings.worker_lease_seconds)
        job.updated_at = now

    async def run_soon(self, run: JobRun, wait_seconds: float) -> WorkflowRequest | None:
        """Run the first attempt of a job committed leased to this executor; wait at most `wait_seconds`.

        `run` carries what the committing transaction holds (the request as committed, its revision's stored
        config), so the attempt reads nothing back. Returns the request as the attempt recorded it, or None when
        the attempt is still running (it goes on in the background) or recorded nothing.
        """
        task = asyncio.create_task(self._execute(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=wait_seconds)
        except TimeoutError:
            log.info("execution continues in background", job=run.id)
            return None

    async def run_due(self, limit: int = 10) -> int:
        """Claim up to `limit` due jobs (new, retry-due or with an expired lease) and run them concurrently."""
        claimed = await self._claim_due(limit)
        if claimed:
            await asyncio.gather(*(self._execute(job) for job in claimed))
        return len(claimed)

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

    async def _claim_due(self, limit: int) -> list[JobRun]:
        """One UPDATE leases the due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take
        different ones) and returns them; one SELECT reads their requests, in the same transaction."""
        async with self.ctx.db.write() as s:
            due = select(ExecutionJob.id).where(self._due(utcnow())).order_by(ExecutionJob.next_run_at).limit(limit)
            repo = JobsRepository(s)
            claimed = await repo.claim(
                [ExecutionJob.id.in_(lock_for_update(due, s, skip_locked=True).scalar_subquery())],
                self._lease_values(),
            )
            await repo.attach_requests(claimed)
            return claimed

    # --- one attempt ----------------------------------------------------------------------------------------
    async def _execute(self, job: JobRun) -> WorkflowRequest | None:
        row = job.row
        if row is None:
            return None
        rtype = TYPES[row.request_type]
        started = asyncio.get_running_loop().time()
        attempt = await self._call(row, job.idempotency_key, rtype.key_in_body)
        self.ctx.metrics.execution_latency.labels(row.request_type).observe(asyncio.get_running_loop().time() - started)
        self.ctx.metrics.executions.labels(row.request_type, attempt.verdict.outcome).inc()
        return await self._record(job, row, attempt)

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
            response = await self._send(payload["method"], url, params, headers, payload.get("body"))
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

    async def _send(
        self, method: str, url: str, params: dict[str, str], headers: dict[str, str], body: Any
    ) -> httpx.Response:
        """The call, made once more at once if the connection drops before any answer (DROPPED_CONNECTION)."""
        try:
            return await self.ctx.downstream.request(method, url, params=params, headers=headers, json=body)
        except DROPPED_CONNECTION as exc:
            log.info("downstream dropped the connection before answering; calling again", error=type(exc).__name__)
            return await self.ctx.downstream.request(method, url, params=params, headers=headers, json=body)

    async def _record(self, job: JobRun, row: WorkflowRequest, attempt: Attempt) -> WorkflowRequest | None:
        """Write the attempt's outcome, only if we still hold the lease (else another worker owns the job).

        The request is the one read when the job was claimed (or handed over by the approval): while we hold
        the lease nobody else moves an executing request, and the state/version compare-and-set below would
        refuse a stale one. Returns the request as recorded, or None when nothing was recorded here.
        """
        settings = self.ctx.settings
        now = utcnow()
        outcome = attempt.verdict.outcome
        final = outcome != "transient" or job.attempts >= settings.executor_max_attempts
        released: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now}
        output = {"status": attempt.status, "headers": attempt.headers, "body": attempt.body}
        attempt_note = {
            "attempt": job.attempts,
            "outcome": outcome,
            "status": attempt.status,
            "reason": attempt.verdict.reason,
            "final": final,
        }
        async with self.ctx.db.write() as s:
            # The org's audit head first, as in every writing transaction (one lock order: counts.py).
            await lock_chain(s, job.org_id)
            jobs, repo = JobsRepository(s), WorkflowRepository(s)
            if row.state != EXECUTING:
                await jobs.settle(job.id, self.owner, {"status": "done", **released})
                return None
            if not final:
                next_run_at = now + timedelta(
                    seconds=backoff_seconds(job.attempts, settings.executor_base_backoff_seconds)
                )
                retry = {"status": "ready", "last_error": attempt.verdict.reason, "next_run_at": next_run_at}
                if not await jobs.settle(job.id, self.owner, {**retry, **released}):
                    log.warning("lease lost before recording; the new owner will record", job=job.id)
                    return None
                details = {
                    **row.details,
                    "IntouchAPITask_Output": output,
                    "IntouchAPITask_Retry": {
                        "attempts": job.attempts,
                        "nextAttemptAt": next_run_at.strftime("%Y-%m-%dT%H:%M:%S"),
                    },
                }
                await jobs.set_details(row.org_id, row.id, EXECUTING, details)
                applied(row, {"details": details})
                await note(repo, row, "attempt", "system:executor", attempt_note)
                return row
            new_state = APPROVED if outcome == "success" else FAILED
            done = {"status": "done" if outcome == "success" else "failed", "last_error": attempt.verdict.reason}
            if not await jobs.settle(job.id, self.owner, {**done, **released}):
                log.warning("lease lost before recording; the new owner will record", job=job.id)
                return None
            details = {k: v for k, v in row.details.items() if k != "IntouchAPITask_Retry"}
            details["IntouchAPITask_Output"] = output
            values = {
                "state": new_state,
                "end_time": now,
                "details": details,
                "failure_reason": None if outcome == "success" else attempt.verdict.reason,
            }
            # The move first, then the timeline and audit events (the chain's tip is written once, at commit).
            moved = await repo.transition(row.org_id, row.id, from_state=EXECUTING, version=row.version, values=values)
            if not moved:
                await note(repo, row, "attempt", "system:executor", attempt_note)
                return None
            applied(row, {**values, "version": row.version + 1})
            outcome_note = {"reason": attempt.verdict.reason}
            await notes(
                repo, row, [("attempt", "system:executor", attempt_note), (new_state, "system:executor", outcome_note)]
            )
            last = row.approvals[-1] if row.approvals else {}
            await announce(
                repo,
                row,
                resolved_config(job.config, settings.own_base_url),
                previous_state=PENDING,
                comment=last.get("message"),
                checker_id=row.checker_id,
            )
            return row


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
