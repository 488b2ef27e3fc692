"""The SQL that must differ between SQLite and PostgreSQL lives here, named, and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.execute import execute
from foureyes.core.sqlite_driver import LONG_READ


def long_read(stmt: Select[Any]) -> Select[Any]:
    """`stmt` marked as a long read (LONG_READ)."""
    return stmt.execution_options(**{LONG_READ: True})


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO NOTHING on either store."""
    if is_postgres(session):
        stmt: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    await execute(session, stmt)


def dialect_name(session: AsyncSession) -> str:
    """The session's dialect name ("sqlite", "postgresql"): the key of a statement built once per dialect."""
    return session.get_bind().dialect.name


def lock_for_update(stmt: Select[Any], session: AsyncSession, *, skip_locked: bool = False) -> Select[Any]:
    """Row lock on PostgreSQL. SQLite needs none: its write transactions start with BEGIN IMMEDIATE and
    hold the single write lock, which already serialises every writer."""
    return locked_on(stmt, dialect_name(session), skip_locked=skip_locked)


def locked_on(stmt: Select[Any], dialect: str, *, skip_locked: bool = False) -> Select[Any]:
    """`lock_for_update` for a statement built once per dialect (a cached builder keyed by `dialect_name`):
    the lock clause is decided when the statement is built, not at each call."""
    if dialect == "postgresql":
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt


def lock_for_no_key_update(stmt: Select[Any], session: AsyncSession) -> Select[Any]:
    """`FOR NO KEY UPDATE` on PostgreSQL: serialises writers that lock the row while leaving inserts of rows
    referencing it by foreign key (which take KEY SHARE) unblocked. SQLite: no lock needed (single writer)."""
    if is_postgres(session):
        return stmt.with_for_update(key_share=True)
    return stmt


async def claim_rows(
    session: AsyncSession,
    model: Any,
    *,
    due: ColumnElement[bool],
    order_by: Sequence[Any],
    limit: int,
    values: dict[str, Any],
) -> list[Any]:
    """Claim up to `limit` rows matching `due`: set `values` (a lease) on them and return them.

    PostgreSQL: `UPDATE … WHERE id IN (SELECT id … ORDER BY … LIMIT n FOR UPDATE SKIP LOCKED) RETURNING *`, so
    concurrent workers each take different rows without waiting on one another. SQLite: the same statement
    without the lock clause; its write transaction (BEGIN IMMEDIATE) already excludes every other writer.
    """
    pick = select(model.id).where(due).order_by(*order_by).limit(limit)
    if is_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    stmt = update(model).where(model.id.in_(pick.scalar_subquery())).values(**values).returning(model)
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    return list(result.scalars().all())


# --- job wake-ups (LISTEN/NOTIFY on PostgreSQL; SQLite has none and relies on an in-process event) ---------
async def notify(session: AsyncSession, channel: str) -> bool:
    """Queue a NOTIFY on `channel`, delivered by PostgreSQL when this transaction commits; False on SQLite."""
    if not is_postgres(session):
        return False
    from sqlalchemy import text

    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})
    return True


def listen_sql(channel: str) -> str:
    """The statement a dedicated autocommit connection runs to receive `channel`'s notifications."""
    if not channel.replace("_", "").isalnum():
        raise ValueError("channel names are plain identifiers")
    return f'LISTEN "{channel}"'


def libpq_url(sqlalchemy_url: str) -> str:
    """A SQLAlchemy `postgresql+psycopg://` URL as a plain libpq conninfo URL (for a raw psycopg connection)."""
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def upsert_increment_statement(table: Any, dialect: str, keys: tuple[str, ...], column: str) -> Any:
    """INSERT keys with `column` = delta, or add delta to the existing row: built once per (table, dialect (a
    name), keys, column).

    Its bind parameters are named after the columns (`keys` and `column`, which takes the delta). Building an
    INSERT … ON CONFLICT and its cache key costs more Python than running it; a reused statement skips both.
    """
    module: Any = postgresql if dialect == "postgresql" else sqlite
    names = (*keys, column)
    stmt = module.insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={column: table.c[column] + stmt.excluded[column]})


async def upsert_increment(session: AsyncSession, table: Any, keys: dict[str, Any], column: str, delta: int) -> None:
    """INSERT keys with `column` = delta, or add delta to the existing row: one statement on either store."""
    stmt = upsert_increment_statement(table, dialect_name(session), tuple(keys), column)
    await execute(session, stmt, {**keys, column: delta})


async def upsert_increments(
    session: AsyncSession, table: Any, rows: Sequence[tuple[dict[str, Any], int]], column: str
) -> None:
    """`upsert_increment` for several (keys, delta) rows, applied in order, in one executemany.

    Not one multi-row `VALUES` statement: SQLAlchemy does not cache multi-values statements ("simply not cacheable
    right now", sql/cache_key.py), so that form was compiled again on every call. The single-row upsert is
    compiled once and reused; SQLite runs the rows in one `executemany`, psycopg in one pipeline.
    """
    stmt = upsert_increment_statement(table, dialect_name(session), tuple(rows[0][0]), column)
    await execute(session, stmt, [{**keys, column: delta} for keys, delta in rows])


# --- list paging: requests counted per UTC day of their start (workflows/counts.py) -------------------------
def day_number_sql(dialect_name: str, column: str) -> str:
    """SQL for the UTC day of a naive-UTC timestamp column as whole days since 1970-01-01 (negative before).

    Must agree with `workflows.counts.bucket_of` for every stored value: it backfills the day counters (migration
    0006, the list benchmark's bulk load, `counts.recount`) that the list seeks by. SQLite keeps timestamps as
    'YYYY-MM-DD HH:MM:SS.ffffff' text; the Julian day of a midnight is an exact .5, so the cast is exact.
    """
    if dialect_name == "postgresql":
        return f"(CAST({column} AS DATE) - DATE '1970-01-01')"
    return f"CAST(julianday(date({column})) - 2440587.5 AS INTEGER)"
