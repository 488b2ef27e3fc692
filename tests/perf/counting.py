"""Counting SQL statements and Argon2 verifications while an endpoint runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.default import CacheStats
from sqlalchemy.orm import ORMExecuteState, Session

from foureyes.core.context import AppContext


@dataclass
class Statements:
    """Every statement sent to either engine while the block ran (BEGIN included: it is a round trip too)."""

    sql: list[str] = field(default_factory=list)
    # Statements SQLAlchemy compiled for this execution instead of taking from its compiled cache (a first use,
    # or a statement it cannot cache, which then pays the compiler on every call).
    compiled: list[str] = field(default_factory=list)
    # Statements SQLAlchemy compiled with the ORM's compile state (a select naming mapped classes or attributes):
    # they also pay the ORM's execution path and row loading on every call (core/models.py, `core_table`).
    orm: list[str] = field(default_factory=list)
    # Core statements sent through `Session.execute` rather than `core.execute.execute`: they pay the session's
    # execution path (~30 Python calls a statement) for nothing.
    core_via_session: list[str] = field(default_factory=list)
    # Statements sent through SQLAlchemy's execution path (they have an execution context), BEGIN and COMMIT
    # aside; the others went straight to the driver (core/direct.py).
    via_sqlalchemy: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1:3}: {s[:160]}" for i, s in enumerate(self.sql))


@contextmanager
def count_statements(ctx: AppContext) -> Iterator[Statements]:
    found = Statements()

    def _seen(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        found.sql.append(" ".join(statement.split()))
        if context is not None and context.compiled is not None:
            found.via_sqlalchemy.append(found.sql[-1])
        # Driver-level SQL (BEGIN) has nothing to compile; a Core or ORM statement reports how it got its SQL.
        if context is not None and context.compiled is not None and context.cache_hit != CacheStats.CACHE_HIT:
            found.compiled.append(found.sql[-1])
        compile_state = getattr(context.compiled, "compile_state", None) if context is not None else None
        if type(compile_state).__module__.startswith("sqlalchemy.orm."):
            found.orm.append(found.sql[-1])

    def _through_session(state: ORMExecuteState) -> None:
        if not state.is_orm_statement:
            found.core_via_session.append(_label(state.statement))

    event.listen(Session, "do_orm_execute", _through_session)
    try:
        with listening(ctx, "before_cursor_execute", _seen):
            yield found
    finally:
        event.remove(Session, "do_orm_execute", _through_session)


def _label(statement: Any) -> str:
    try:
        return " ".join(str(statement).split())[:160]
    except Exception:  # a dialect-specific construct (ON CONFLICT) has no generic string form
        return type(statement).__name__


@contextmanager
def listening(ctx: AppContext, name: str, listener: Callable[..., None]) -> Iterator[None]:
    """`listener` on the `name` event of both engines (one, when they are the same) while the block runs."""
    engines = {id(e): e for e in (ctx.db.write_engine.sync_engine, ctx.db.read_engine.sync_engine)}
    for engine in engines.values():
        event.listen(engine, name, listener)
    try:
        yield
    finally:
        for engine in engines.values():
            event.remove(engine, name, listener)
