"""The expiry pass locks the orgs' audit heads in ascending org id, whatever order the expired rows come back in.

One transaction expires requests of several orgs and locks each org's audit head as it goes; two PostgreSQL
writers taking heads of the same orgs in opposite orders would deadlock, so every multi-org writer takes them in
one order. The rows are written so that the expiry index ((state, expires_at)) returns the orgs interleaved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from foureyes.audit.service import lock_chain
from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.ids import uuid7
from foureyes.workflows import worker
from foureyes.workflows.models import RequestBucket, WorkflowRequest
from foureyes.workflows.repository import WorkflowRepository
from tests.factories import CONCEPT, STORE, TILL, ZONE, make_tenant

LOW, HIGH = 100, 200


def _pending(org_id: int, expired_minutes_ago: int) -> WorkflowRequest:
    now = utcnow()
    return WorkflowRequest(
        id=uuid7(), org_id=org_id, request_type="GOODWILL-POINTS", state="AdminTask", maker_kind="user",
        maker_id=1, maker_name="maker", concept_id=CONCEPT, zone_id=ZONE, store_id=STORE, till_id=TILL,
        unit_path=f"/{CONCEPT}/{ZONE}/{STORE}/{TILL}/", start_time=now - timedelta(hours=3), end_time=None,
        expires_at=now - timedelta(minutes=expired_minutes_ago), config_revision=0, payload={}, details={},
        sealed_headers={}, target_base="http://127.0.0.1", approvals=[], version=1,
    )  # fmt: skip


async def test_expiry_locks_orgs_in_ascending_order(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    await make_tenant(ctx, LOW)
    await make_tenant(ctx, HIGH, name="Other")
    # Oldest deadline first, alternating orgs, the higher org first: written and indexed in that order.
    orgs = [HIGH, LOW, HIGH, LOW, HIGH, LOW]
    async with ctx.db.write() as s:
        repo = WorkflowRepository(s)
        for i, org in enumerate(orgs):
            await repo.add_request(_pending(org, expired_minutes_ago=60 - i))
    locked: list[int] = []

    async def recording(session: Any, org_id: int) -> Any:
        locked.append(org_id)
        return await lock_chain(session, org_id)

    monkeypatch.setattr(worker, "lock_chain", recording)
    assert await worker.expire_pending(ctx) == len(orgs)
    assert locked == sorted(orgs)
    async with ctx.db.read() as s:
        states = (await s.execute(select(WorkflowRequest.state, func.count()).group_by(WorkflowRequest.state))).all()
        counters = (
            await s.execute(select(RequestBucket.state, func.sum(RequestBucket.n)).group_by(RequestBucket.state))
        ).all()
    assert dict(states) == {"expired": len(orgs)}
    assert {state: int(n) for state, n in counters if n} == {"expired": len(orgs)}
