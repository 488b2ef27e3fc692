"""Core statements on the hot paths, run on the session's connection rather than through `Session.execute`.

A unit of work is an `AsyncSession` (core/database.py): the audit chain and the principal cache hang off its
events, and the catalog's and identity's code loads and changes mapped objects. The hot paths' statements are
built on tables (`core.models.core_table`) and need none of the ORM's execution path — bind lookup, execution
options merging, the `do_orm_execute` hooks: ~30 Python calls a statement, a fifth of a Core statement's cost on
SQLite (docs/performance.md). `execute` runs them on the connection of the session's transaction, looked up once
per transaction.

Not for writes to identity tables: the principal cache hears of those through the session's `do_orm_execute`
event, which this path skips (identity/principal_cache.py). Not for mapped-class statements either: they need
the session (autoflush, identity map); `execute` refuses them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Executable, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

Rows = CursorResult[*tuple[Any, ...]]  # what Session.execute returns for an untyped statement

_CONNECTION = "foureyes.core.connection"


async def execute(session: AsyncSession, statement: Executable, parameters: Any = None) -> Rows:
    """`statement` (Core, with `parameters`: a dict, or a list of dicts for an executemany) in the session's
    transaction, on its connection."""
    _refuse_mapped(statement)
    conn: AsyncConnection | None = session.info.get(_CONNECTION)
    if conn is None:
        conn = session.info[_CONNECTION] = await session.connection()
    return await conn.execute(statement, parameters)


def execute_sync(session: Session, statement: Executable, parameters: Any = None) -> Rows:
    """`execute` for code that runs inside the session's synchronous events (the audit chain's `before_commit`)."""
    _refuse_mapped(statement)
    conn: AsyncConnection | None = session.info.get(_CONNECTION)
    sync: Connection = conn.sync_connection if conn is not None and conn.sync_connection else session.connection()
    return sync.execute(statement, parameters)


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
