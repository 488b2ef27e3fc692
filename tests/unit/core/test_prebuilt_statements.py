"""Statements built once and reused (issue #7): the lock clause follows the dialect they were built for, and
every one still filters by the org."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from foureyes.audit.service import _head_statement
from foureyes.badges.earn_queries import _facts_statement
from foureyes.badges.repository import _meta_statement
from foureyes.core.dialect import locked_on


def sql(stmt: Any, dialect: Any) -> str:
    return str(stmt.compile(dialect=dialect.dialect()))


def test_lock_clause_is_decided_by_the_dialect_the_statement_is_built_for() -> None:
    for build in (lambda d: _meta_statement(d), _head_statement):
        assert "FOR UPDATE" in sql(build("postgresql"), postgresql)
        assert "FOR UPDATE" not in sql(build("sqlite"), sqlite)
    assert "FOR UPDATE" not in sql(_meta_statement(None), postgresql)  # a dry run reads without a lock
    assert "SKIP LOCKED" in sql(locked_on(_meta_statement(None), "postgresql", skip_locked=True), postgresql)


def test_built_once_per_shape() -> None:
    assert _meta_statement("postgresql") is _meta_statement("postgresql")
    assert _meta_statement("postgresql") is not _meta_statement("sqlite")
    shape = (True, True, True, ((True, True), (False, False)))
    assert _facts_statement(*shape) is _facts_statement(*shape)


def test_every_part_of_the_facts_statement_is_scoped_to_the_org() -> None:
    text = sql(_facts_statement(True, True, True, ((True, True), (False, True), (True, False))), sqlite)
    for table in ("badge_idempotency", "badge_claims", "customers"):
        assert f"{table}.org_id = ?" in text
    assert text.count("badge_earns.org_id = ?") == 3
    compiled = _facts_statement(True, False, False, ((True, True),)).compile(dialect=sqlite.dialect())
    assert {"org", "badge", "operation", "request_id", "customer_0", "from_0", "until_0"} <= set(compiled.params)
