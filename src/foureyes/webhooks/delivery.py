"""Deliver the outbox: lease due deliveries, POST them signed, retry with backoff, give up after N attempts.

Everything lives in the database, so delivery survives restarts: a worker that dies mid-send leaves a
lease that expires, and the next pass takes the delivery again (at-least-once; receivers dedupe on
`X-Foureyes-Delivery` or the body's `eventId`). No transaction is held open across an HTTP call.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from foureyes import __version__
from foureyes.core.context import AppContext
from foureyes.core.logging import get_logger
from foureyes.core.outbound import outbound_client
from foureyes.core.security import hmac_signature
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery
from foureyes.webhooks.repository import WebhookRepository
from foureyes.webhooks.urls import InvalidWebhookUrl, check_webhook_url

log = get_logger("foureyes.webhooks")
BASE_BACKOFF_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 3600.0
SEND_TIMEOUT_SECONDS = 10.0
BATCH = 50


def backoff_seconds(attempts: int, rand: Callable[[], float] = random.random) -> float:
    """Delay after the `attempts`-th failure: 10 s doubling to at most an hour, ±25 % jitter."""
    delay = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return delay * (0.75 + 0.5 * rand())


def event_body(event: OutboxEvent) -> bytes:
    """The JSON posted: the event's identity first, then the feature's payload (which cannot override it)."""
    head: dict[str, Any] = {
        "eventName": event.event_name,
        "eventId": event.event_id,
        "orgId": event.org_id,
        # Stored as naive UTC; sent as epoch milliseconds like the reference's `createdAt`.
        "createdAt": int(event.created_at.replace(tzinfo=UTC).timestamp() * 1000),
    }
    body = {**head, **{k: v for k, v in (event.payload or {}).items() if k not in head}}
    return json.dumps(body, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Job:
    id: int
    url: str
    secret_sealed: str | None
    attempts: int
    lease_until: datetime
    event_name: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None
    error: str | None
    permanent: bool = False


def new_client() -> httpx.AsyncClient:
    """A client that never follows redirects, reads no proxy settings from the environment and keeps no cookies
    (a pass delivers many orgs' events)."""
    return outbound_client(
        httpx.Timeout(SEND_TIMEOUT_SECONDS, connect=5.0), headers={"User-Agent": f"foureyes-webhooks/{__version__}"}
    )


async def deliver_due(ctx: AppContext, limit: int = BATCH, client: httpx.AsyncClient | None = None) -> int:
    """One pass: claim up to `limit` due deliveries, send them, record outcomes; returns how many were tried."""
    jobs = await _claim(ctx, limit)
    if not jobs:
        return 0
    own = client is None
    http = client or new_client()
    try:
        gate = asyncio.Semaphore(max(1, ctx.settings.worker_concurrency))

        async def run(job: Job) -> Outcome:
            async with gate:
                return await _send(ctx, http, job)

        outcomes = await asyncio.gather(*(run(job) for job in jobs))
    finally:
        if own:
            await http.aclose()
    await _settle(ctx, list(zip(jobs, outcomes, strict=True)))
    return len(jobs)


async def delivery_loop(ctx: AppContext, stop: asyncio.Event) -> None:
    """Deliver until `stop` is set; sleeps `worker_poll_seconds` whenever a pass finds less than a batch."""
    async with new_client() as client:
        while not stop.is_set():
            try:
                tried = await deliver_due(ctx, BATCH, client)
            except Exception:  # a bad pass (database blip) must not end the loop
                log.exception("webhook delivery pass failed")
                tried = 0
            if tried < BATCH:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=ctx.settings.worker_poll_seconds)
                except TimeoutError:
                    pass


async def _claim(ctx: AppContext, limit: int) -> list[Job]:
    now = ctx.clock.now()
    lease = now + timedelta(seconds=ctx.settings.worker_lease_seconds)
    async with ctx.db.write() as session:
        repo = WebhookRepository(session)
        claimed: list[WebhookDelivery] = await repo.claim_due(now, lease, limit)
        events = await repo.events({d.event_id for d in claimed})
    jobs = []
    for d in claimed:
        event = events.get(d.event_id)
        body = event_body(event) if event is not None else b"{}"
        name = event.event_name if event is not None else "unknown"
        jobs.append(Job(d.id, d.url, d.secret_sealed, d.attempts, lease, name, body))
    return jobs


async def _send(ctx: AppContext, http: httpx.AsyncClient, job: Job) -> Outcome:
    try:
        url = check_webhook_url(job.url)
    except InvalidWebhookUrl as exc:
        return Outcome(False, None, f"refused URL: {exc}", permanent=True)
    headers = {
        "Content-Type": "application/json",
        "X-Foureyes-Event": job.event_name,
        "X-Foureyes-Delivery": str(job.id),
    }
    if job.secret_sealed:
        try:
            headers["X-Foureyes-Signature"] = hmac_signature(ctx.secret_box.open(job.secret_sealed), job.body)
        except ValueError as exc:
            return Outcome(False, None, f"secret unusable: {exc}", permanent=True)
    try:
        # Streamed and never read: a hostile receiver cannot make us buffer a huge answer.
        async with http.stream("POST", url, content=job.body, headers=headers) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= status < 300:
        return Outcome(True, status, None)
    return Outcome(False, status, f"HTTP {status}")


async def _settle(ctx: AppContext, results: list[tuple[Job, Outcome]]) -> None:
    now = ctx.clock.now()
    max_attempts = ctx.settings.webhook_max_attempts
    async with ctx.db.write() as session:
        repo = WebhookRepository(session)
        for job, out in results:
            values: dict[str, Any] = {"lease_until": None, "last_status": out.status, "last_error": out.error}
            if out.delivered:
                values.update(status="delivered", delivered_at=now)
                outcome = "delivered"
            elif out.permanent or job.attempts >= max_attempts:
                values["status"] = "failed"
                outcome = "failed"
            else:
                values["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(job.attempts))
                outcome = "retry"
            if await repo.settle(job.id, job.lease_until, values):
                ctx.metrics.webhook_deliveries.labels(outcome=outcome).inc()
                log.info("webhook attempt", delivery=job.id, outcome=outcome, status=out.status, error=out.error)
