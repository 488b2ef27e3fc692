"""The list's statements (GET …/requests), built once per filter shape with bind parameters.

Building a select with its filters and its cache key took about a third of a list call's Python (py-spy), more
than running it. A list's statement depends only on which filters are present (its shape), not on their values,
so it is built once per shape and executed with the values as parameters; a reused statement's cache key is
memoised. Every statement names the org (`:org`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, or_, select

from foureyes.core.dialect import long_read
from foureyes.workflows.models import WorkflowRequest

W = WorkflowRequest
UNIT_FILTERS = ("concept_id", "zone_id", "store_id", "till_id")


@dataclass
class ListQuery:
    """Filters of GET …/requests, already parsed. `unit_scopes` None = the whole org."""

    org_id: int
    unit_scopes: list[str] | None = None
    visible_maker: tuple[str, int] | None = None
    maker_id: int | None = None
    request_type: str | None = None
    states: list[str] = field(default_factory=list)
    concept_id: str | None = None
    zone_id: str | None = None
    store_id: str | None = None
    till_id: str | None = None
    start_from: datetime | None = None
    start_before: datetime | None = None
    sort_by: str = "startDate"
    descending: bool = True
    page: int = 0
    limit: int = 10


@dataclass(frozen=True)
class Shape:
    """Which filters a list has (not their values): the key of its statements."""

    scopes: int | None  # how many unit scopes limit visibility; None = the whole org
    visible_maker: bool
    maker: bool
    request_type: bool
    states: bool
    units: tuple[str, ...]  # which of UNIT_FILTERS are given
    start_from: bool
    start_before: bool

    @property
    def org_and_states_only(self) -> bool:
        """Nothing but the org (whole-org visibility) and optionally states: the counters answer."""
        return (
            self.scopes is None
            and not self.maker
            and not self.request_type
            and not self.units
            and not self.start_from
            and not self.start_before
        )


def shape_of(q: ListQuery) -> Shape:
    return Shape(
        scopes=None if q.unit_scopes is None else len(q.unit_scopes),
        visible_maker=q.unit_scopes is not None and q.visible_maker is not None,
        maker=q.maker_id is not None,
        request_type=bool(q.request_type),
        states=bool(q.states),
        units=tuple(name for name in UNIT_FILTERS if getattr(q, name)),
        start_from=q.start_from is not None,
        start_before=q.start_before is not None,
    )


def _prefix_pattern(prefix: str) -> str:
    """A LIKE pattern matching values that start with `prefix`, escaped as `startswith(…, autoescape=True)`
    does (escape character '/'), which needs a literal and so cannot take a bind parameter."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def params_of(q: ListQuery, shape: Shape) -> dict[str, Any]:
    """The values of `q`'s filters, named as `conditions(shape)` binds them."""
    params: dict[str, Any] = {"org": q.org_id}
    if q.unit_scopes is not None:
        params.update({f"scope_{i}": _prefix_pattern(p) for i, p in enumerate(q.unit_scopes)})
        if shape.visible_maker and q.visible_maker is not None:
            params["visible_kind"], params["visible_id"] = q.visible_maker
    if shape.maker:
        params["maker"] = q.maker_id
    if shape.request_type:
        params["request_type"] = q.request_type
    if shape.states:
        params["states"] = q.states
    for name in shape.units:
        params[name] = getattr(q, name)
    if shape.start_from:
        params["start_from"] = q.start_from
    if shape.start_before:
        params["start_before"] = q.start_before
    return params


def conditions(shape: Shape) -> list[ColumnElement[bool]]:
    """The WHERE of a list of this shape, with a bind parameter per value (see `params_of`)."""
    c: list[ColumnElement[bool]] = [W.org_id == bindparam("org")]
    if shape.scopes is not None:
        visible: list[ColumnElement[bool]] = [
            W.unit_path.startswith(bindparam(f"scope_{i}", type_=W.unit_path.type), escape="/")
            for i in range(shape.scopes)
        ]
        if shape.visible_maker:
            visible.append(and_(W.maker_kind == bindparam("visible_kind"), W.maker_id == bindparam("visible_id")))
        c.append(or_(*visible) if visible else W.id.is_(None))
    if shape.maker:
        c.append(W.maker_id == bindparam("maker"))
    if shape.request_type:
        c.append(W.request_type == bindparam("request_type"))
    if shape.states:
        c.append(W.state.in_(bindparam("states", expanding=True)))
    for name in shape.units:
        c.append(getattr(W, name) == bindparam(name))
    if shape.start_from:
        c.append(W.start_time >= bindparam("start_from"))
    if shape.start_before:
        c.append(W.start_time < bindparam("start_before"))
    return c


@lru_cache(maxsize=512)
def count_statement(shape: Shape) -> Select[int]:
    """COUNT(*) of a list of this shape (when the counters cannot answer it)."""
    return long_read(select(func.count()).select_from(W).where(*conditions(shape)))


@lru_cache(maxsize=512)
def page_statement(shape: Shape, sort_by: str, descending: bool, windowed: bool) -> Select[WorkflowRequest]:
    """The page: ids in the list's order, `:offset` skipped, `:limit` taken, then the rows of those ids.

    `windowed` adds `:window_from <= start_time < :window_until`, the days the counters say hold the page.
    """
    column = W.start_time if sort_by == "startDate" else W.end_time
    order: list[Any] = [column.desc(), W.id.desc()] if descending else [column.asc(), W.id.asc()]
    where = conditions(shape)
    if windowed:
        where += [W.start_time >= bindparam("window_from"), W.start_time < bindparam("window_until")]
    # Deferred join: the offset is walked over ids in an index (no table/heap reads for skipped rows), and only
    # the page's rows are fetched whole.
    page = (
        select(W.id)
        .where(*where)
        .order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    ).subquery()
    stmt = select(W).join(page, W.id == page.c.id).order_by(*order)
    # A seek's window holds about a page of rows; an offset walk may step over many index entries.
    return stmt if windowed else long_read(stmt)
