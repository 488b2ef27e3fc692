"""Rows and results of statements run by `core.direct`, read the way callers read SQLAlchemy's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import exc


class DirectRow(tuple[Any, ...]):
    """A result row: a tuple with SQLAlchemy `Row`'s `_mapping` and attribute access by column key."""

    __slots__ = ()
    _keys: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._keys, self, strict=True))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


def row_class(keys: Sequence[str]) -> type[DirectRow]:
    """The row type of a statement whose columns are `keys` (made once per plan)."""
    return type("DirectRow", (DirectRow,), {"__slots__": (), "_keys": tuple(keys), "_index": _first_index(keys)})


def _first_index(keys: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)
    return index


class DirectResult:
    """The rows (all fetched) and row count of one statement, read the way callers read a `CursorResult`."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> Any:
        if not self.rows:
            raise exc.NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]
