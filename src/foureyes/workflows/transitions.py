"""What every state change writes, in the same transaction: timeline, audit event and webhook outbox."""

from __future__ import annotations

import time
from typing import Any

from foureyes.audit.service import record
from foureyes.core.clock import utcnow
from foureyes.webhooks.outbox import enqueue_event
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.models import RequestEvent, WorkflowRequest
from foureyes.workflows.presenter import workflow_event
from foureyes.workflows.repository import WorkflowRepository


async def config_for(repo: WorkflowRepository, row: WorkflowRequest, own_base_url: str) -> dict[str, Any]:
    """The stored configuration the request was created under (revision 0 = the defaults)."""
    if row.config_revision:
        stored = await repo.config_at(row.org_id, row.request_type, row.config_revision)
        if stored is not None:
            return stored.config
    return WorkflowConfig(allowedHosts=[own_base_url]).model_dump(mode="json")


async def note(repo: WorkflowRepository, row: WorkflowRequest, kind: str, actor: str, data: dict[str, Any]) -> None:
    """Append to the request's timeline and to the org's audit chain."""
    now = utcnow()
    repo.add(RequestEvent(org_id=row.org_id, request_id=row.id, at=now, kind=kind, actor=actor, data=data))
    await record(
        repo.s,
        org_id=row.org_id,
        actor=actor,
        action=f"request.{kind}",
        subject_type="request",
        subject_id=row.id,
        data=data,
        at=now,
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
