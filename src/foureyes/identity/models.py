"""Tables of tenants, org units, users, API clients and permission grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foureyes.core.models import Base

UNIT_KINDS = ("concept", "zone", "store", "till")
PERMISSIONS = (
    "CanMakeRequest",
    "CanCheckRequest",
    "CanConfigureWorkflows",
    "BadgesRead",
    "BadgesWrite",
    "CustomersWrite",
)


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class OrgUnit(Base):
    """One node of concept → zone → store → till; `path` is `/concept/zone/store/till/` for subtree checks."""

    __tablename__ = "org_units"

    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str] = mapped_column(String(400))

    __table_args__ = (Index("ix_org_units_org_path", "org_id", "path"),)


class User(Base):
    """An intouch user (console, makers, checkers) or a till user (API calls with Basic)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiClient(Base):
    """An OAuth key/secret pair belonging to one org, acting with its own grants."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Grant(Base):
    """A permission held by a user or client, org-wide (`unit_id` NULL) or for one unit and below."""

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    principal_kind: Mapped[str] = mapped_column(String(8))
    principal_id: Mapped[int] = mapped_column(Integer)
    permission: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_grants_principal", "principal_kind", "principal_id"),
        UniqueConstraint("principal_kind", "principal_id", "permission", "unit_id"),
    )


class LoginThrottle(Base):
    """Failed-login counter per username, to slow down and lock out brute force."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
