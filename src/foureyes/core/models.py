"""The declarative base shared by every feature's tables."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def core_table(model: type[Base]) -> Table:
    """The model's Core table, for hot-path statements that should not take the ORM's execution path.

    A select naming ORM attributes (`Model.col`) is ORM-enabled even when it returns plain columns: SQLAlchemy
    then runs its ORM compile state and row loading on every execution, and `core.execute` refuses it. An entity
    select costs ~66 Python calls more than the same select on the table (docs/performance.md, "Session 8").
    Inserts built on the table skip the unit of work too.
    """
    return cast(Table, model.__table__)  # declarative models with __tablename__ always have a Table


def column_values(row: Base) -> dict[str, Any]:
    """A mapped object's column values by column name, for a Core INSERT that skips the unit of work.

    Attributes never set are left out, so the column's default applies as it would at an ORM flush.
    """
    table = row.__table__
    state = row.__dict__
    return {column.name: state[column.key] for column in table.columns if column.key in state}
