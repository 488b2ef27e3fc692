"""Tables of the badges feature.

Badge meta keeps the fields that queries filter or sort on in columns and the rest of the documented body
(images, benefits, tags, custom fields, constraints, expiry rules, owners) in one JSON `doc`. Earns and
issues are rows so that limit counts are indexed queries, never JSON scans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foureyes.core.models import Base


class BadgeMeta(Base):
    __tablename__ = "badge_meta"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    earn_type: Mapped[str] = mapped_column(String(16))
    start_on: Mapped[datetime] = mapped_column(DateTime)
    expires_on: Mapped[datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    group_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        Index("ix_badge_meta_org_dates", "org_id", "start_on", "expires_on"),
    )


class BadgeClaim(Base):
    __tablename__ = "badge_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    badge_id: Mapped[str] = mapped_column(String(24))
    owner_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_badge_claims_badge", "org_id", "badge_id"),)


class BadgeIssue(Base):
    """An enrolment ("issue" on the wire): the customer may earn an ISSUE_EARN badge while it is active."""

    __tablename__ = "badge_issues"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    badge_id: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    event_date: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")  # ACTIVE | REVOKED
    owner_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    owner_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_badge_issues_customer", "org_id", "badge_id", "customer_id"),)


class BadgeEarn(Base):
    __tablename__ = "badge_earns"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    badge_id: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    issue_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    earned_at: Mapped[datetime] = mapped_column(DateTime)
    event_date: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    owner_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        # Per-customer and per-badge limit counts: equality on the first columns, range on event_date.
        Index("ix_badge_earns_customer", "org_id", "badge_id", "customer_id", "event_date"),
        Index("ix_badge_earns_badge", "org_id", "badge_id", "event_date"),
        Index("ix_badge_earns_by_customer", "org_id", "customer_id"),
    )


class BadgeIdempotency(Base):
    """The first result of each (org, operation, requestId): repeats answer 809 with it, forever."""

    __tablename__ = "badge_idempotency"

    org_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    operation: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class BadgeGroup(Base):
    __tablename__ = "badge_groups"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    rank: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("org_id", "name"),)


class BadgeCustomField(Base):
    __tablename__ = "badge_custom_fields"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    data_type: Mapped[str] = mapped_column(String(16))
    is_mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    default_value: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("org_id", "name"),)


class BadgeOrgMeta(Base):
    """Per-org badge configuration (the documented orgMeta: tag definitions)."""

    __tablename__ = "badge_org_meta"

    org_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
