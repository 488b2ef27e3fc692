"""What every state change writes, in the same transaction: timeline, audit event and webhook outbox."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert

from foureyes.audit.service import record
from foureyes.core.clock import utcnow
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.webhooks.outbox import enqueue_event
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.models import RequestEvent, WorkflowRequest
from foureyes.workflows.presenter import workflow_event
from foureyes.workflows.repository import WorkflowRepository

EVENTS = core_table(RequestEvent)  # the Core table: no unit of work
_ADD_EVENTS = insert(EVENTS)  # built once: its cache key is then memoised, not rebuilt on every state change


async def config_for(repo: WorkflowRepository, row: WorkflowRequest, own_base_url: str) -> dict[str, Any]:
    """The stored configuration the request was created under (revision 0 = the defaults)."""
    stored = await repo.config_at(row.org_id, row.request_type, row.config_revision) if row.config_revision else None
    return resolved_config(stored.config if stored is not None else None, own_base_url)


def resolved_config(stored: dict[str, Any] | None, own_base_url: str) -> dict[str, Any]:
    """A revision's stored config, or the defaults when there is none (revision 0)."""
    if stored is not None:
        return stored
    return WorkflowConfig(allowedHosts=[own_base_url]).model_dump(mode="json")


async def note(repo: WorkflowRepository, row: WorkflowRequest, kind: str, actor: str, data: dict[str, Any]) -> None:
    """Append to the request's timeline and to the org's audit chain."""
    await notes(repo, row, [(kind, actor, data)])


async def notes(repo: WorkflowRepository, row: WorkflowRequest, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Append several (kind, actor, data) entries, in order, to the timeline and to the org's audit chain.

    The timeline rows go in one Core INSERT (an executemany for several): nothing reads their ids back, so the
    unit of work and its per-row `RETURNING id` are not needed. Each audit event is one Core INSERT too; the
    chain's tip is written once, when the transaction commits (audit/service.py).
    """
    at = [utcnow() for _ in entries]
    rows = [
        {"org_id": row.org_id, "request_id": row.id, "at": when, "kind": kind, "actor": actor, "data": data}
        for when, (kind, actor, data) in zip(at, entries, strict=True)
    ]
    await execute(repo.s, _ADD_EVENTS, rows)
    for when, (kind, actor, data) in zip(at, entries, strict=True):
        await record(
            repo.s,
            org_id=row.org_id,
            actor=actor,
            action=f"request.{kind}",
            subject_type="request",
            subject_id=row.id,
            data=data,
            at=when,
        )


async def announce(
    repo: WorkflowRepository,
    row: WorkflowRequest,
    config: dict[str, Any],
    *,
    previous_state: str | None,
    comment: str | None = None,
    checker_id: int | None = None,
) -> None:
    """Queue `requestWorkflowEvent` for the webhooks configured on the request's revision."""
    targets = [(w["url"], w.get("secret")) for w in config.get("webhooks", [])]
    if not targets:
        return
    payload = workflow_event(row, previous_state, comment, checker_id, int(time.time() * 1000))
    await enqueue_event(repo.s, org_id=row.org_id, event_name="requestWorkflowEvent", payload=payload, targets=targets)
