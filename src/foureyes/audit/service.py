"""Append to and verify the audit chain.

Each event's hash covers the previous hash and a canonical JSON of the event, so editing, deleting or
reordering any event breaks every later link. `AuditHead` remembers the tip, which also makes a deleted
*last* event detectable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from foureyes.audit.models import AuditEvent, AuditHead
from foureyes.core.clock import utcnow
from foureyes.core.dialect import dialect_name, insert_ignore, locked_on
from foureyes.core.execute import execute, execute_sync
from foureyes.core.models import core_table

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
_EVENTS = core_table(AuditEvent)  # Core tables: appends need no unit of work
_HEADS = core_table(AuditHead)
_APPEND = insert(_EVENTS)
_MOVE_TIP = (
    update(_HEADS).where(_HEADS.c.org_id == bindparam("org")).values(seq=bindparam("seq"), hash=bindparam("tip"))
)


@dataclass
class ChainHead:
    """An org's chain tip as this transaction holds it (row-locked), and the events appended since it was read."""

    org_id: int
    seq: int
    hash: str
    appended: list[dict[str, Any]] = field(default_factory=list)


@cache
def _head_statement(dialect: str) -> Select[Any]:
    """The org's (`:org`) chain tip, row-locked as `dialect` locks: built once per dialect, not per call."""
    return locked_on(select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.org_id == bindparam("org")), dialect)


async def lock_chain(session: AsyncSession, org_id: int) -> ChainHead:
    """The org's chain head, row-locked for the rest of this transaction; read once per transaction.

    Every writer of an org takes this lock before anything else it counts or chains (workflows/counts.py), so
    writers queue in one order and never deadlock. The head is remembered in `session.info` (one session is one
    transaction, core/database.py) so a transaction that records several events, or counts and then records,
    reads and locks it once; its events and new tip are written just before it commits (`_write_appended`).
    """
    heads: dict[int, ChainHead] = session.info.setdefault(_LOCKED_HEADS, {})
    head = heads.get(org_id)
    if head is not None:
        return head
    locked, params = _head_statement(dialect_name(session)), {"org": org_id}
    found = (await execute(session, locked, params)).one_or_none()
    if found is None:
        # The org's first event starts its chain; a concurrent first writer may insert it first (no conflict).
        await insert_ignore(session, _HEADS, {"org_id": org_id, "seq": 0, "hash": GENESIS}, ["org_id"])
        found = (await execute(session, locked, params)).one()
    head = heads[org_id] = ChainHead(org_id, found.seq, found.hash)
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
) -> None:
    """Append one event to the org's chain inside the caller's transaction (written when it commits)."""
    head = await lock_chain(session, org_id)
    payload = json.loads(json.dumps(data or {}, default=str))
    when = at or utcnow()
    seq = head.seq + 1
    digest = event_hash(head.hash, seq, when, actor, action, subject_type, subject_id, payload)
    event = {
        "org_id": org_id,
        "seq": seq,
        "at": when,
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": payload,
        "prev_hash": head.hash,
        "hash": digest,
    }
    head.appended.append(event)
    head.seq, head.hash = seq, digest


@event.listens_for(Session, "before_commit")
def _write_appended(session: Session) -> None:
    """Each org's appended events (one INSERT, an executemany for several) and its new tip (one UPDATE).

    Once per transaction however many events it recorded: a bulk earn of 100 items writes its 100 audit rows
    in one statement. Nothing reads a transaction's own audit rows before it commits. No code uses savepoints:
    events recorded inside one that rolled back would still be written here (docs/decisions.md).
    """
    heads: dict[int, ChainHead] = session.info.pop(_LOCKED_HEADS, {})
    for head in heads.values():
        if head.appended:
            execute_sync(session, _APPEND, head.appended)
            execute_sync(session, _MOVE_TIP, {"org": head.org_id, "seq": head.seq, "tip": head.hash})


@event.listens_for(Session, "after_rollback")
def _forget_tips(session: Session) -> None:
    """A rolled-back transaction's tips never happened; the lock is gone with it."""
    session.info.pop(_LOCKED_HEADS, None)


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
