"""Hot-path Core statements compiled once by SQLAlchemy and sent straight to the driver.

SQLAlchemy stays the SQL builder, the compiler (one compiled form per statement, dialect and parameter names),
the owner of connections and transactions, and the type system (its bind and result processors run here too).
What this module skips is its per-execution path: the execution context, cache-key lookup, result metadata and a
greenlet switch per statement through the asyncio adapter — about a hundred Python calls a statement, more than
SQLite itself spends on a point query (docs/performance.md, session 10). The statement runs on the same DBAPI
connection, inside the same transaction, through the same driver calls as SQLAlchemy would make:

- SQLite: the project's adapter (`core.sqlite_driver`), whose cursor runs a statement in one awaitable call and
  sends what may wait (and statements marked `long_read`) to its worker thread;
- PostgreSQL: psycopg's async cursor on the adapter's connection (its prepared-statement threshold applies).

A statement takes this path only when nothing SQLAlchemy does per execution would change its outcome (`_plan`):
no parameters rendered at execution time (expanding IN, literal binds), no Python-side column defaults, no
implicit RETURNING (`inserted_primary_key`), no schema translation, no escaped parameter names; anything else,
any other driver and an engine with `echo` on go through SQLAlchemy's own `execute`. Driver errors become
SQLAlchemy's exceptions (`IntegrityError`, …) and a lost connection is invalidated, as SQLAlchemy would do;
`before_execute`/`before_cursor_execute` listeners and their `after_` pairs still hear every statement (the
cursor events with `context` None; a `retval=True` listener cannot rewrite a statement here).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from foureyes.core.direct_rows import DirectResult, DirectRow, row_class
from foureyes.core.logging import get_logger
from foureyes.core.sqlite_driver import DRIVER as SQLITE_DRIVER
from foureyes.core.sqlite_driver import LONG_READ

PSYCOPG = "psycopg"
# A statement is compiled here the second time it runs with the same parameter names: the hot statements are
# module constants or built once per shape, while one built per call (`insert_ignore`'s) runs once and is left
# to SQLAlchemy, whose compiled cache finds it by its cache key. A plan holds its statement (the compiled form
# refers to it), so plans are never freed: past MAX_PLANS — a statement built per call and run twice, say — new
# shapes stay with SQLAlchemy instead of growing the process (a warning names the first one refused).
MAX_PLANS = 1_000
_SEEN_ONCE, _UNSEEN = "seen once", "unseen"

log = get_logger("foureyes.core.direct")


@dataclass
class Plan:
    """One statement's compiled form for one dialect and set of parameter names, and how to bind and read it."""

    options: Mapping[str, Any]  # the statement's execution options
    compiled: SQLCompiler
    sql: str
    many: bool
    long_read: bool
    positions: tuple[str, ...] | None  # the qmark order (SQLite); None for named parameters (psycopg)
    binds: dict[str, Callable[[Any], Any]]
    result_types: list[Any]
    row_class: type[DirectRow] | None
    # Result processors depend on the driver's column types (cursor.description), so they are found on the first
    # execution, as SQLAlchemy finds them per result.
    readers: list[Callable[[Any], Any] | None] | None = field(default=None)


_planned = 0
_warned_full = False
_plans: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Plan | None | str]] = weakref.WeakKeyDictionary()


def plan(statement: Executable, dialect: Dialect, parameters: Any) -> Plan | None:
    """How to run `statement` with `parameters` directly, or None when SQLAlchemy must run it."""
    if dialect.driver not in (SQLITE_DRIVER, PSYCOPG):
        return None
    many = isinstance(parameters, list)
    if many and not parameters:
        return None
    first = parameters[0] if many else parameters
    key = (dialect.driver, tuple(first) if first else (), many)  # the driver (checked above) names the dialect
    shapes = _plans.get(statement)
    if shapes is None:
        _plans[statement] = shapes = {}
    found = shapes.get(key, _UNSEEN)
    if found is _UNSEEN:
        shapes[key] = _SEEN_ONCE
        return None
    if found is _SEEN_ONCE:
        global _planned, _warned_full
        if _planned >= MAX_PLANS:
            if not _warned_full:
                log.warning("direct_plans_full", statement=str(statement)[:200])
                _warned_full = True
            return None
        found = shapes[key] = _plan(statement, dialect, key[1], many)
        _planned += found is not None
    assert found is None or isinstance(found, Plan)
    return found


def _plan(statement: Executable, dialect: Dialect, keys: tuple[str, ...], many: bool) -> Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)  # type: ignore[attr-defined]
    if not isinstance(compiled, SQLCompiler):
        return None
    if (
        compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.implicit_returning
        or compiled.schema_translate_map
        or compiled.escaped_bind_names
        or (many and compiled.effective_returning)
    ):
        return None
    columns = compiled._result_columns
    options = statement.get_execution_options()
    return Plan(
        options=options,
        compiled=compiled,
        sql=compiled.string,
        many=many,
        long_read=bool(options.get(LONG_READ)),
        positions=tuple(compiled.positiontup or ()) if compiled.positional else None,
        binds=dict(compiled._bind_processors),  # type: ignore[arg-type]
        result_types=[column.type for column in columns],
        row_class=row_class([column.keyname for column in columns]) if columns else None,
    )


def bind(p: Plan, parameters: Any) -> Any:
    """The driver's parameters: SQLAlchemy's construction (defaults of bound values, required checks) and bind
    processors (dates as SQLite stores them, JSON), in qmark order or by name."""
    if p.many:
        return [_bind_one(p, one) for one in parameters]
    return _bind_one(p, parameters)


def _bind_one(p: Plan, parameters: Any) -> Any:
    values = p.compiled.construct_params(parameters, escape_names=False)
    binds = p.binds
    if p.positions is not None:
        return tuple(binds[k](values[k]) if k in binds else values[k] for k in p.positions)
    return {k: (binds[k](v) if k in binds else v) for k, v in values.items()}


def rows_of(p: Plan, dialect: Dialect, description: Any, raw: list[Any]) -> list[Any]:
    """Driver rows as rows of the statement's columns, with SQLAlchemy's result processors applied."""
    if p.row_class is None or not raw:
        return []
    if p.readers is None:
        p.readers = [
            t._cached_result_processor(dialect, column[1])
            for t, column in zip(p.result_types, description, strict=True)
        ]
    make, readers = p.row_class, p.readers
    if not any(readers):
        return [make(row) for row in raw]
    return [make(tuple(r(v) if r else v for r, v in zip(readers, row, strict=True))) for row in raw]


async def run(conn: AsyncConnection, p: Plan, parameters: Any) -> DirectResult:
    """Execute `p` on the connection's DBAPI connection inside its current transaction."""
    sync = conn.sync_connection
    assert sync is not None
    dialect = sync.dialect
    params = bind(p, parameters)
    dbapi_connection: Any = sync.connection.dbapi_connection
    events = _listened(sync)
    if events:  # what SQLAlchemy's listeners expect, without the return values `retval=True` ones may give
        multi, single = (parameters, {}) if p.many else ([], parameters or {})
        sync.dispatch.before_execute(sync, p.compiled.statement, multi, single, p.options)
        sync.dispatch.before_cursor_execute(sync, None, p.sql, params, None, p.many)
    try:
        try:
            if dialect.driver == PSYCOPG:
                description, raw, rowcount = await _psycopg(dbapi_connection._connection, p, params)
            else:
                description, raw, rowcount = await _sqlite(dbapi_connection, p, params)
        except Exception as error:
            dbapi_connection._handle_exception(error)  # the adapter's own translation (a closed connection)
            raise
    except dialect.loaded_dbapi.Error as error:
        wrapped = _as_sqlalchemy_error(sync, dbapi_connection, error, p.sql, params, p.many)
        if wrapped.connection_invalidated:
            await conn.invalidate(error)
        raise wrapped from error
    result = DirectResult(rows_of(p, dialect, description, raw), rowcount)
    if events:
        sync.dispatch.after_cursor_execute(sync, None, p.sql, params, None, p.many)
        sync.dispatch.after_execute(sync, p.compiled.statement, multi, single, p.options, result)
    return result


def begin(sync: Connection, sql: str) -> None:
    """`sql` (BEGIN, BEGIN IMMEDIATE: no parameters, no rows) on the driver, from SQLAlchemy's `begin` event, which
    runs in its greenlet; `exec_driver_sql` would pay its whole execution path for it on every transaction."""
    dbapi_connection: Any = sync.connection.dbapi_connection
    events = _listened(sync)
    if events:
        sync.dispatch.before_cursor_execute(sync, None, sql, (), None, False)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)  # the adapter's cursor: awaits the driver through SQLAlchemy's greenlet
    except sync.dialect.loaded_dbapi.Error as error:
        wrapped = _as_sqlalchemy_error(sync, dbapi_connection, error, sql, (), False)
        if wrapped.connection_invalidated:
            sync.invalidate(error)
        raise wrapped from error
    finally:
        cursor.close()
    if events:
        sync.dispatch.after_cursor_execute(sync, None, sql, (), None, False)


def _listened(sync: Connection) -> bool:
    """Whether the connection or its engine has listeners (SQLAlchemy's own test before dispatching)."""
    return bool(sync._has_events or sync.engine._has_events)


def _as_sqlalchemy_error(
    sync: Connection, dbapi_connection: Any, error: Any, sql: str, params: Any, many: bool
) -> exc.DBAPIError:
    """The exception SQLAlchemy raises for the driver's `error` (`IntegrityError`, …), saying whether the
    connection is lost."""
    dialect = sync.dialect
    wrapped = exc.DBAPIError.instance(
        sql,
        params,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=sync.engine.hide_parameters,
        connection_invalidated=dialect.is_disconnect(error, dbapi_connection, None),
        dialect=dialect,
        ismulti=many,
    )
    assert isinstance(wrapped, exc.DBAPIError)  # a driver error always wraps as one
    return wrapped


async def _sqlite(adapter: Any, p: Plan, params: Any) -> tuple[Any, list[Any], int]:
    cursor = adapter.cursor()  # core.sqlite_driver.InlineCursor: buffered, nothing opened until `_call`
    cursor.long_read = p.long_read
    await cursor._call(p.sql, params, p.many)
    return cursor.description, list(cursor._rows), cursor.rowcount


async def _psycopg(connection: Any, p: Plan, params: Any) -> tuple[Any, list[Any], int]:
    cursor = connection.cursor()
    try:
        if p.many:
            await cursor.executemany(p.sql, params)
            return None, [], cursor.rowcount
        await cursor.execute(p.sql, params)
        raw = await cursor.fetchall() if cursor.description is not None else []
        return cursor.description, raw, cursor.rowcount
    finally:
        await cursor.close()


def compiled_plans() -> int:
    """How many statement shapes this process compiled for the direct path (tests: a repeated call compiles
    none after its second run)."""
    return _planned
