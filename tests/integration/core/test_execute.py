"""core.execute: Core statements on the session's transaction connection (both stores)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.context import AppContext
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.identity.models import Org

ORGS = core_table(Org)
NOW = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
COUNT = select(func.count()).select_from(ORGS).where(ORGS.c.id == bindparam("id"))


async def test_statements_share_the_sessions_transaction(ctx: AppContext) -> None:
    """A Core insert through `execute` and an ORM read through the session see one transaction; a rollback
    takes both away."""
    with pytest.raises(RuntimeError):
        async with ctx.db.write() as s:
            await execute(s, insert(ORGS), {"id": 9001, "name": "temporary", "created_at": NOW})
            assert (await s.get(Org, 9001)) is not None  # the session's own connection saw the insert
            raise RuntimeError("roll back")
    async with ctx.db.read() as s:
        assert (await execute(s, COUNT, {"id": 9001})).scalar_one() == 0


async def test_a_later_transaction_of_the_session_gets_its_own_connection(ctx: AppContext) -> None:
    """The connection is looked up once per transaction and forgotten when it ends: a session that commits and
    begins again runs the next statement in the new transaction (it would otherwise use a returned connection)."""
    async with AsyncSession(ctx.db.write_engine, expire_on_commit=False) as s:
        async with s.begin():
            await execute(s, insert(ORGS), {"id": 9002, "name": "first", "created_at": NOW})
        async with s.begin():
            await execute(s, insert(ORGS), {"id": 9003, "name": "second", "created_at": NOW})
            assert (await execute(s, COUNT, {"id": 9002})).scalar_one() == 1
            assert s.info.get("foureyes.core.connection") is await s.connection()
        assert "foureyes.core.connection" not in s.info
    async with ctx.db.read() as s:
        for org_id in (9002, 9003):
            assert (await execute(s, COUNT, {"id": org_id})).scalar_one() == 1


async def test_an_orm_statement_is_refused(ctx: AppContext) -> None:
    """A statement on mapped classes needs the session (autoflush, objects): `execute` says so at once."""
    async with ctx.db.read() as s:
        with pytest.raises(TypeError, match="Core statements"):
            await execute(s, select(Org).where(Org.id == 1))
