"""Requests per (org, state), kept in the transaction that creates or moves a request.

The list API answers `totalElements` with every page. At a million requests a `COUNT(*)` walks a million index
entries (about 0.3 s on SQLite, see docs/performance.md), so the common lists — the whole org, or the org
filtered by state (the checker inbox) — read these counters instead. Any other filter still counts rows.
Every write path goes through `WorkflowRepository.add_request` and `.transition`, which keep them exact; the
org's audit-chain row already serialises an org's writers, so the counters add no new contention.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.models import AuditHead
from foureyes.core.dialect import lock_for_update, upsert_increment
from foureyes.workflows.models import RequestCount


async def _serialise_org(session: AsyncSession, org_id: int) -> None:
    """Take the org's audit-chain row before touching a counter, so every writer locks in one order.

    Without it a decision (counter, then audit row) and a worker recording an attempt (audit row, then counter)
    deadlocked on PostgreSQL under load (found by tests/cluster). No-op on SQLite (one writer at a time).
    """
    await session.execute(lock_for_update(select(AuditHead.org_id).where(AuditHead.org_id == org_id), session))


async def count_added(session: AsyncSession, org_id: int, state: str) -> None:
    await _serialise_org(session, org_id)
    await upsert_increment(session, RequestCount.__table__, {"org_id": org_id, "state": state}, "n", 1)


async def count_moved(session: AsyncSession, org_id: int, from_state: str, to_state: str) -> None:
    if from_state == to_state:
        return
    await _serialise_org(session, org_id)
    await session.execute(
        update(RequestCount)
        .where(RequestCount.org_id == org_id, RequestCount.state == from_state)
        .values(n=RequestCount.n - 1)
        .execution_options(synchronize_session=False)
    )
    await count_added(session, org_id, to_state)


async def counted_total(session: AsyncSession, org_id: int, states: list[str]) -> int:
    """Requests of the org (in `states`, when given) from the counters."""
    stmt = select(func.coalesce(func.sum(RequestCount.n), 0)).where(RequestCount.org_id == org_id)
    if states:
        stmt = stmt.where(RequestCount.state.in_(states))
    return int(await session.scalar(stmt) or 0)
