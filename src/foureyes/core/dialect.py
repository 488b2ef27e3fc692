"""The SQL that must differ between SQLite and PostgreSQL lives here, named, and nowhere else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO NOTHING on either store."""
    if is_postgres(session):
        stmt: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    await session.execute(stmt)


def lock_for_update(stmt: Select[Any], session: AsyncSession, *, skip_locked: bool = False) -> Select[Any]:
    """Row lock on PostgreSQL. SQLite needs none: its write transactions start with BEGIN IMMEDIATE and
    hold the single write lock, which already serialises every writer."""
    if is_postgres(session):
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt
