"""Append to and verify the audit chain.

Each event's hash covers the previous hash and a canonical JSON of the event, so editing, deleting or
reordering any event breaks every later link. `AuditHead` remembers the tip, which also makes a deleted
*last* event detectable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.models import AuditEvent, AuditHead
from foureyes.core.clock import utcnow
from foureyes.core.dialect import dialect_name, insert_ignore, locked_on

GENESIS = "0" * 64


def event_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any],
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": [subject_type, subject_id],
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


_LOCKED_HEADS = "foureyes.audit.locked_heads"


@cache
def _head_statement(dialect: str) -> Select[Any]:
    """The org's (`:org`) chain head, row-locked as `dialect` locks: built once per dialect, not per call."""
    return locked_on(select(AuditHead).where(AuditHead.org_id == bindparam("org")), dialect)


async def lock_chain(session: AsyncSession, org_id: int) -> AuditHead:
    """The org's chain head, row-locked for the rest of this transaction; read once per transaction.

    Every writer of an org takes this lock before anything else it counts or chains (workflows/counts.py), so
    writers queue in one order and never deadlock. The head is remembered in `session.info` (one session is one
    transaction, core/database.py) so a transaction that records several events, or counts and then records,
    reads and locks it once, and the ORM writes its new tip once at flush.
    """
    heads: dict[int, AuditHead] = session.info.setdefault(_LOCKED_HEADS, {})
    head = heads.get(org_id)
    if head is not None:
        return head
    locked, params = _head_statement(dialect_name(session)), {"org": org_id}
    head = (await session.scalars(locked, params)).one_or_none()
    if head is None:
        # The org's first event starts its chain; a concurrent first writer may insert it first (no conflict).
        await insert_ignore(session, AuditHead.__table__, {"org_id": org_id, "seq": 0, "hash": GENESIS}, ["org_id"])
        head = (await session.scalars(locked, params)).one()
    heads[org_id] = head
    return head


async def record(
    session: AsyncSession,
    *,
    org_id: int,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event to the org's chain inside the caller's transaction (written at its next flush)."""
    head = await lock_chain(session, org_id)
    payload = json.loads(json.dumps(data or {}, default=str))
    when = at or utcnow()
    seq = head.seq + 1
    digest = event_hash(head.hash, seq, when, actor, action, subject_type, subject_id, payload)
    event = AuditEvent(
        org_id=org_id,
        seq=seq,
        at=when,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data=payload,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq = seq
    head.hash = digest
    return event


@dataclass
class VerifyResult:
    org_id: int
    events: int
    ok: bool
    problem: str | None = None


async def verify_org(session: AsyncSession, org_id: int, batch: int = 5000) -> VerifyResult:
    """Walk the org's chain in order; report the first broken link."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.org_id == org_id, AuditEvent.seq > last_seq)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                return VerifyResult(org_id, count, False, f"event seq {expected_seq} is missing")
            if ev.prev_hash != prev:
                return VerifyResult(org_id, count, False, f"event seq {ev.seq} does not link to its predecessor")
            digest = event_hash(prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject_type, ev.subject_id, ev.data)
            if digest != ev.hash:
                return VerifyResult(org_id, count, False, f"event seq {ev.seq} was altered")
            prev = ev.hash
            expected_seq += 1
            count += 1
            last_seq = ev.seq
    head = await session.get(AuditHead, org_id)
    if head is not None and (head.seq != count or head.hash != prev):
        return VerifyResult(org_id, count, False, f"chain ends at seq {count} but the head says {head.seq}")
    return VerifyResult(org_id, count, True)


async def orgs_with_events(session: AsyncSession) -> list[int]:
    return list((await session.scalars(select(AuditHead.org_id).order_by(AuditHead.org_id))).all())
