"""Tables of the request workflow: requests, their timeline, execution jobs and versioned configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foureyes.core.models import Base

PENDING = "AdminTask"
EXECUTING = "IntouchAPITask"
APPROVED = "approved"
REJECTED = "rejected"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
STATES = (PENDING, EXECUTING, APPROVED, REJECTED, FAILED, CANCELLED, EXPIRED)
TERMINAL = frozenset({APPROVED, REJECTED, FAILED, CANCELLED, EXPIRED})


class WorkflowRequest(Base):
    """One maker's request. `payload` is the IntouchAPITask-Payload with secret header values sealed."""

    __tablename__ = "workflow_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    request_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    maker_kind: Mapped[str] = mapped_column(String(8))
    maker_id: Mapped[int] = mapped_column(Integer)
    maker_name: Mapped[str] = mapped_column(String(200))
    concept_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[str] = mapped_column(String(64))
    till_id: Mapped[str] = mapped_column(String(64))
    unit_path: Mapped[str] = mapped_column(String(400))
    start_time: Mapped[datetime] = mapped_column(DateTime)
    end_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    config_revision: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Credential-bearing downstream header values, sealed with the SecretBox; never presented.
    sealed_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    target_base: Mapped[str] = mapped_column(String(500))
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    checker_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        # The list API's filters and sorts, each led by the tenant (contract §5: fast at millions of rows).
        Index("ix_wr_org_start", "org_id", "start_time", "id"),
        # `id` too: the inbox sorts by (start_time, id), and with it the page is read from the index alone.
        Index("ix_wr_org_state_start", "org_id", "state", "start_time", "id"),
        Index("ix_wr_org_type_start", "org_id", "request_type", "start_time"),
        Index("ix_wr_org_maker_start", "org_id", "maker_id", "start_time"),
        Index("ix_wr_org_end", "org_id", "end_time"),
        Index("ix_wr_org_unit", "org_id", "unit_path"),
        Index("ix_wr_pending_expiry", "state", "expires_at"),
    )


class RequestBucket(Base):
    """Requests per (org, state, UTC day of start_time): the list's totals and its deep pages' seek (counts.py)."""

    __tablename__ = "workflow_request_buckets"

    org_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    # Whole days since 1970-01-01 (counts.bucket_of; core.dialect.day_number_sql computes the same in SQL).
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class RequestEvent(Base):
    """The request's timeline: steps, decisions, execution attempts and state changes."""

    __tablename__ = "workflow_request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_wre_request", "request_id", "id"),)


class ExecutionJob(Base):
    """The durable job behind an approved request; committed with the approval (transactional outbox)."""

    __tablename__ = "execution_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # ready | leased | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_jobs_due", "status", "next_run_at"),
        Index("ix_jobs_lease", "status", "lease_until"),
    )


class WorkflowConfigRevision(Base):
    """One revision of an (org, requestType) configuration; the newest is in force."""

    __tablename__ = "workflow_config_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    request_type: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("org_id", "request_type", "revision"),)
