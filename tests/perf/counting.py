"""Counting SQL statements and Argon2 verifications while an endpoint runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from foureyes.core.context import AppContext


@dataclass
class Statements:
    """Every statement sent to either engine while the block ran (BEGIN included: it is a round trip too)."""

    sql: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1:3}: {s[:160]}" for i, s in enumerate(self.sql))


@contextmanager
def count_statements(ctx: AppContext) -> Iterator[Statements]:
    found = Statements()

    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found.sql.append(" ".join(statement.split()))

    with listening(ctx, "before_cursor_execute", _seen):
        yield found


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
