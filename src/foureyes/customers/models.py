"""The minimal customers registry: identity, identifiers and status (with its history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foureyes.core.models import Base

IDENTIFIERS = ("mobile", "email", "externalId", "cardnumber")


class Customer(Base):
    __tablename__ = "customers"

    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mobile: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    card_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status_label: Mapped[str] = mapped_column(String(64), default="Active")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("org_id", "mobile"),
        UniqueConstraint("org_id", "email"),
        UniqueConstraint("org_id", "external_id"),
        UniqueConstraint("org_id", "card_number"),
    )


class CustomerStatusChange(Base):
    __tablename__ = "customer_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    old_label: Mapped[str] = mapped_column(String(64))
    new_label: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_customer_status_changes_customer", "org_id", "customer_id", "at"),)


class CustomerIdempotencyKey(Base):
    """An `Idempotency-Key` already applied for an org: a repeat answers `response` and changes nothing.

    The primary key makes two concurrent requests with one key serialise on the insert: the second waits
    for the first to commit, then finds its stored answer.
    """

    __tablename__ = "customer_idempotency_keys"

    org_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
