"""core.direct: hot Core statements compiled once and run on the driver, with SQLAlchemy's types, errors and
events (both stores)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core import database, direct, sqlite_driver
from foureyes.core.context import AppContext
from foureyes.core.database import Database
from foureyes.core.dialect import long_read
from foureyes.core.direct_rows import DirectResult
from foureyes.core.errors import Unavailable
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.identity.models import Org, OrgUnit
from foureyes.identity.repository import IdentityRepository
from foureyes.webhooks.models import OutboxEvent
from tests.conftest import PG_ADMIN, base_settings
from tests.perf.counting import listening

EVENTS = core_table(OutboxEvent)
ORGS = core_table(Org)
UNITS = core_table(OrgUnit)
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC).replace(tzinfo=None)

ADD = insert(EVENTS)  # run with lists here (an executemany): PostgreSQL would RETURN a single row's id implicitly
BY_NAME = (
    select(EVENTS.c.event_id, EVENTS.c.payload, EVENTS.c.created_at)
    .where(EVENTS.c.event_name == bindparam("name"))
    .order_by(EVENTS.c.event_id)
)
RENAME = update(EVENTS).where(EVENTS.c.event_name == bindparam("old")).values(event_name=bindparam("new"))
ADD_ORG = insert(ORGS)


def event_row(i: int, name: str = "direct") -> dict[str, Any]:
    payload = {"n": i, "text": "é ✓", "nested": {"list": [1, None, True]}}
    return {"org_id": 100, "event_name": name, "event_id": f"ev-{name}-{i}", "payload": payload, "created_at": WHEN}


class Sent:
    """Statements the engines sent, split by path: SQLAlchemy's (an execution context) or direct (none)."""

    def __init__(self, ctx: AppContext) -> None:
        self.direct: list[str] = []
        self.sqlalchemy: list[str] = []
        self._listening = listening(ctx, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        if not sql.startswith(("BEGIN", "SELECT pg_backend_pid")):
            (self.sqlalchemy if context is not None else self.direct).append(" ".join(sql.split())[:40])

    def __enter__(self) -> Sent:
        self._listening.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listening.__exit__(*exc)


async def test_a_repeated_statement_runs_directly_and_reads_back_what_sqlalchemy_stores(ctx: AppContext) -> None:
    """The first run goes through SQLAlchemy, later ones straight to the driver; dates, JSON and text come back
    from either path as SQLAlchemy's own types read them, whichever path wrote them."""
    add = insert(EVENTS).returning(EVENTS.c.id)  # the outbox's INSERT_EVENT, new to this process
    with Sent(ctx) as sent:
        async with ctx.db.write() as s:
            ids = [(await execute(s, add, event_row(i))).scalar_one() for i in range(4)]
    assert len(sent.sqlalchemy) == 1 and len(sent.direct) == 3
    assert len(set(ids)) == 4 and all(isinstance(i, int) for i in ids)  # RETURNING on either path
    assert all(sql.startswith("INSERT INTO outbox_events") for sql in sent.sqlalchemy + sent.direct)
    async with ctx.db.read() as s:
        through_sqlalchemy = (await s.execute(BY_NAME, {"name": "direct"})).all()
        await execute(s, BY_NAME, {"name": "direct"})
        through_driver = (await execute(s, BY_NAME, {"name": "direct"})).all()
    assert isinstance(direct.plan(BY_NAME, ctx.db.read_engine.dialect, {"name": "direct"}), direct.Plan)
    expected = [(f"ev-direct-{i}", event_row(i)["payload"], WHEN) for i in range(4)]
    assert [tuple(row) for row in through_sqlalchemy] == expected
    assert [tuple(row) for row in through_driver] == expected
    first = through_driver[0]
    assert first.created_at == WHEN and isinstance(first.created_at, datetime)
    assert first._mapping == {"event_id": "ev-direct-0", "payload": event_row(0)["payload"], "created_at": WHEN}


async def test_executemany_and_rowcounts(ctx: AppContext) -> None:
    async with ctx.db.write() as s:
        await execute(s, ADD, [event_row(i, "many") for i in range(2)])
        await execute(s, ADD, [event_row(i, "many") for i in range(2, 5)])  # the direct run
        await execute(s, RENAME, {"old": "none", "new": "x"})
        renamed = await execute(s, RENAME, {"old": "many", "new": "renamed"})
    assert renamed.rowcount == 5
    async with ctx.db.read() as s:
        ids = (await s.execute(BY_NAME, {"name": "renamed"})).scalars().all()
    assert ids == [f"ev-many-{i}" for i in range(5)]


async def test_a_constraint_violation_is_sqlalchemys_integrity_error(ctx: AppContext) -> None:
    """Callers catch `IntegrityError` (the badge earn's requestId race): the direct path raises it too."""
    async with ctx.db.write() as s:
        await execute(s, ADD_ORG, {"id": 7001, "name": "a", "created_at": WHEN})
        await execute(s, ADD_ORG, {"id": 7002, "name": "b", "created_at": WHEN})
    with Sent(ctx) as sent, pytest.raises(IntegrityError) as raised:
        async with ctx.db.write() as s:
            await execute(s, ADD_ORG, {"id": 7001, "name": "again", "created_at": WHEN})
    assert sent.direct and not sent.sqlalchemy
    assert "orgs" in str(raised.value) or "unique" in str(raised.value).lower()
    async with ctx.db.read() as s:
        assert (await s.execute(text("SELECT name FROM orgs WHERE id = 7001"))).scalar_one() == "a"


async def test_results_read_like_sqlalchemys(ctx: AppContext) -> None:
    async with ctx.db.write() as s:
        await execute(s, ADD, [event_row(i, "read") for i in range(2)])
        await execute(s, ADD, [event_row(i, "read") for i in range(2, 4)])
        for _ in range(2):
            none = await execute(s, BY_NAME, {"name": "absent"})
            rows = await execute(s, BY_NAME, {"name": "read"})
    assert isinstance(none, DirectResult) and isinstance(rows, DirectResult)
    assert none.first() is None and none.scalar() is None and none.one_or_none() is None
    assert none.scalar_one_or_none() is None and none.all() == []
    with pytest.raises(NoResultFound):
        none.one()
    with pytest.raises(NoResultFound):
        none.scalar_one()
    with pytest.raises(MultipleResultsFound):
        rows.one_or_none()
    assert [row.event_id for row in rows] == [f"ev-read-{i}" for i in range(4)]
    assert rows.scalar() == "ev-read-0"
    event_id, payload, created_at = rows.first()
    assert (event_id, payload["n"], created_at) == ("ev-read-0", 0, WHEN)
    with pytest.raises(AttributeError):
        _ = rows.first().no_such_column


async def test_what_sqlalchemy_must_render_per_call_stays_with_sqlalchemy(ctx: AppContext) -> None:
    """An expanding IN is rendered per call; a statement built per call is never compiled here."""
    in_list = select(UNITS.c.id).where(UNITS.c.id.in_(bindparam("ids", expanding=True)))
    async with ctx.db.read() as s:
        with Sent(ctx) as sent:
            for _ in range(3):
                await execute(s, in_list, {"ids": ["a", "b"]})
            before = direct.compiled_plans()
            for i in range(3):
                await execute(s, select(ORGS.c.name).where(ORGS.c.id == i))
        assert direct.plan(in_list, ctx.db.read_engine.dialect, {"ids": ["a"]}) is None
    assert direct.compiled_plans() == before
    assert len(sent.sqlalchemy) == 6 and not sent.direct


async def test_a_lost_postgresql_connection_is_invalidated_and_answers_unavailable(ctx: AppContext) -> None:
    """A server that drops the connection mid-transaction: the direct path invalidates it as SQLAlchemy would,
    the unit of work answers 503 (not a 500), and the next transaction gets a fresh connection."""
    if ctx.db.write_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to lose")
    statement = select(ORGS.c.name).where(ORGS.c.id == bindparam("id"))
    with pytest.raises(Unavailable):
        async with ctx.db.write() as s:
            for _ in range(2):
                await execute(s, statement, {"id": 100})
            pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            await execute(s, statement, {"id": 100})
    async with ctx.db.write() as s:
        await execute(s, ADD_ORG, {"id": 7003, "name": "after", "created_at": WHEN})
        assert (await execute(s, statement, {"id": 7003})).scalar_one() == "after"


async def test_a_lost_connection_is_reported_by_the_direct_path(ctx: AppContext) -> None:
    """The DBAPIError itself says the connection was invalidated (what `_is_unavailable` reads)."""
    if ctx.db.write_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to lose")
    statement = select(ORGS.c.id).where(ORGS.c.id == bindparam("id"))
    async with AsyncSession(ctx.db.write_engine) as s:  # outside the unit of work, which would map the error
        await s.begin()
        for _ in range(2):
            await execute(s, statement, {"id": 100})
        pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DBAPIError) as raised:
            await execute(s, statement, {"id": 100})
        assert raised.value.connection_invalidated
        await s.rollback()


async def test_long_reads_stay_off_the_loop_on_sqlite(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement marked `long_read` runs on the SQLite driver's worker thread on the direct path too."""
    db = Database(base_settings(tmp_path, None))
    threads: list[int] = []
    real = sqlite_driver._run

    def recording(conn: Any, operation: str, *args: Any) -> Any:
        if "FROM orgs" in operation:
            threads.append(threading.get_ident())
        return real(conn, operation, *args)

    count = long_read(select(ORGS.c.id).where(ORGS.c.id > bindparam("low")))
    try:
        async with db.write() as s:
            await s.execute(text("CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT, created_at TEXT)"))
        monkeypatch.setattr(sqlite_driver, "_run", recording)
        async with db.read() as s:
            for _ in range(2):
                await execute(s, count, {"low": 0})
        assert isinstance(direct.plan(count, db.read_engine.dialect, {"low": 0}), direct.Plan)
    finally:
        await db.dispose()
    assert len(threads) == 2 and threading.get_ident() not in threads


async def test_plans_stop_at_the_cap(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans are never freed (the compiled form holds its statement), so a process that has made MAX_PLANS leaves
    new statements to SQLAlchemy rather than growing without bound."""
    monkeypatch.setattr(direct, "_planned", direct.MAX_PLANS)
    monkeypatch.setattr(direct, "_warned_full", False)
    statement = select(ORGS.c.name).where(ORGS.c.id == bindparam("id"))
    with Sent(ctx) as sent:
        async with ctx.db.read() as s:
            for _ in range(3):
                await execute(s, statement, {"id": 1})
    assert len(sent.sqlalchemy) == 3 and not sent.direct
    assert direct.compiled_plans() == direct.MAX_PLANS


async def test_a_begin_that_cannot_get_the_write_lock_answers_unavailable(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN goes to the driver from the `begin` event (`direct.begin`); when another process keeps SQLite's write
    lock past the busy timeout, the driver's error still becomes SQLAlchemy's and then a 503, not a 500."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(database, "SQLITE_PRAGMAS", [p.replace("10000", "200") for p in database.SQLITE_PRAGMAS])
    db = Database(base_settings(tmp_path, None))
    try:
        async with db.write() as s:
            await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        other = sqlite3.connect(db.url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable):
            async with db.write() as s:
                await s.execute(text("INSERT INTO t (id) VALUES (1)"))
        other.execute("ROLLBACK")
        other.close()
        async with db.write() as s:
            await s.execute(text("INSERT INTO t (id) VALUES (2)"))
        async with db.read() as s:
            assert (await s.execute(text("SELECT id FROM t"))).scalars().all() == [2]
    finally:
        await db.dispose()


async def test_unit_paths_with_one_bind_per_id_and_past_them_an_expanding_in(ctx: AppContext) -> None:
    """A create's unit read names up to four ids with one bind each (so it can run on the driver); more ids take
    the expanding IN. Both answer the org's own units only."""
    async with ctx.db.write() as s:
        await execute(s, ADD_ORG, {"id": 7100, "name": "units", "created_at": WHEN})
        await execute(s, ADD_ORG, {"id": 7101, "name": "other", "created_at": WHEN})
        for org_id in (7100, 7101):
            for i in range(6):
                row = {"org_id": org_id, "id": f"u{i}", "kind": "store", "name": f"u{i}", "path": f"/{org_id}/u{i}/"}
                await execute(s, insert(UNITS), row)
    async with ctx.db.read() as s:
        repo = IdentityRepository(s)
        for _ in range(3):  # the third run is a direct one
            assert await repo.unit_paths(7100, {"u1", "u3", "missing"}) == {"u1": "/7100/u1/", "u3": "/7100/u3/"}
        many = {f"u{i}" for i in range(6)}
        assert await repo.unit_paths(7100, many) == {f"u{i}": f"/7100/u{i}/" for i in range(6)}
        assert await repo.unit_paths(7101, {"u0"}) == {"u0": "/7101/u0/"}
        assert await repo.unit_paths(7100, set()) == {}
