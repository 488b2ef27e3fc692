"""Core statements on the hot paths, run on the session's connection rather than through `Session.execute`.

A unit of work is an `AsyncSession` (core/database.py): the audit chain and the principal cache hang off its
events, and the catalog's and identity's code loads and changes mapped objects. The hot paths' statements are
built on tables (`core.models.core_table`) and need none of the ORM's execution path — bind lookup, execution
options merging, the `do_orm_execute` hooks: ~30 Python calls a statement, a fifth of a Core statement's cost on
SQLite (docs/performance.md). `execute` runs them on the connection of the session's transaction, looked up once
per transaction, and, where `core.direct` can run a statement without SQLAlchemy's per-execution path (nearly
all of them), sends it straight to the driver; the caller reads the result the same way either way (`Rows`).

Not for writes to identity tables: the principal cache hears of those through the session's `do_orm_execute`
event, which this path skips (identity/principal_cache.py). Not for mapped-class statements either: they need
the session (autoflush, identity map); `execute` refuses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from sqlalchemy import Executable, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util.concurrency import await_

from foureyes.core import direct

_CONNECTION = "foureyes.core.connection"


class Rows(Protocol):
    """What callers read of a statement's result: SQLAlchemy's `CursorResult` and `direct_rows.DirectResult` both."""

    @property
    def rowcount(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...
    def all(self) -> Any: ...
    def first(self) -> Any: ...
    def one(self) -> Any: ...
    def one_or_none(self) -> Any: ...
    def scalar(self) -> Any: ...
    def scalar_one(self) -> Any: ...
    def scalar_one_or_none(self) -> Any: ...


async def execute(session: AsyncSession, statement: Executable, parameters: Any = None) -> Rows:
    """`statement` (Core, with `parameters`: a dict, or a list of dicts for an executemany) in the session's
    transaction, on its connection."""
    _refuse_mapped(statement)
    conn: AsyncConnection | None = session.info.get(_CONNECTION)
    if conn is None:
        conn = session.info[_CONNECTION] = await session.connection()
    plan = _direct_plan(conn, statement, parameters)
    if plan is None:
        return await conn.execute(statement, parameters)
    return await direct.run(conn, plan, parameters)


def execute_sync(session: Session, statement: Executable, parameters: Any = None) -> Rows:
    """`execute` for code that runs inside the session's synchronous events (the audit chain's `before_commit`):
    they run in SQLAlchemy's greenlet, which can await the driver."""
    _refuse_mapped(statement)
    conn: AsyncConnection | None = session.info.get(_CONNECTION)
    if conn is None or conn.sync_connection is None:
        return session.connection().execute(statement, parameters)
    plan = _direct_plan(conn, statement, parameters)
    if plan is None:
        return conn.sync_connection.execute(statement, parameters)
    result: Rows = await_(direct.run(conn, plan, parameters))
    return result


def _direct_plan(conn: AsyncConnection, statement: Executable, parameters: Any) -> direct.Plan | None:
    """The driver-side plan for the statement, unless SQLAlchemy must run it (or `echo` wants its log lines)."""
    return None if conn.sync_engine.echo else direct.plan(statement, conn.dialect, parameters)


def _refuse_mapped(statement: Executable) -> None:
    # A statement naming mapped classes or attributes carries the ORM plugin; on a bare connection it would skip
    # autoflush and load rows, not objects. Caught in development (tests/perf runs every hot statement).
    if statement._propagate_attrs.get("compile_state_plugin") == "orm":
        raise TypeError("execute() takes Core statements; run ORM statements with the session")


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    """The connection belongs to the transaction that ended; a later one on this session gets its own."""
    if transaction.parent is None:
        session.info.pop(_CONNECTION, None)
