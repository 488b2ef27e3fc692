"""The SQLite driver: statements on the event loop's thread; lock waits, bulk writes and long reads on the worker
thread; WAL checkpoints beside the writer, on a connection and thread of their own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from foureyes.core import sqlite_driver
from foureyes.core.database import Database
from foureyes.core.dialect import LONG_READ
from foureyes.core.errors import Unavailable
from foureyes.core.sqlite_driver import BULK_ROWS, CHECKPOINT_EVERY
from foureyes.workflows.listing import ListQuery, count_statement, page_statement, shape_of
from tests.conftest import base_settings


class Trace:
    """Every statement SQLite runs on the engines' connections, with the thread that ran it."""

    def __init__(self, db: Database) -> None:
        self.seen: list[tuple[int, str]] = []
        for engine in (db.write_engine, db.read_engine):
            event.listen(engine.sync_engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        raw: sqlite3.Connection = dbapi_conn._connection._conn
        raw.set_trace_callback(lambda sql: self.seen.append((threading.get_ident(), sql.strip())))

    def threads(self, prefix: str) -> set[int]:
        return {thread for thread, sql in self.seen if sql.upper().startswith(prefix)}


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(base_settings(tmp_path, None))
    yield database
    await database.dispose()


class Checkpoints:
    """Every checkpoint started: the thread that ran it and the connection it ran on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[int, sqlite3.Connection]] = []
        real = sqlite_driver._checkpoint

        def recording(conn: sqlite3.Connection) -> int:
            self.seen.append((threading.get_ident(), conn))
            return real(conn)

        monkeypatch.setattr(sqlite_driver, "_checkpoint", recording)


@pytest.fixture
def checkpoints(monkeypatch: pytest.MonkeyPatch) -> Checkpoints:
    return Checkpoints(monkeypatch)


async def writer_of(db: Database) -> Any:
    """The write engine's one DBAPI connection (`InlineConnection`), borrowed without a transaction (no commit)."""
    async with db.write_engine.connect() as conn:
        return (await conn.get_raw_connection()).dbapi_connection


async def settled(db: Database) -> Any:
    """The writer, once the checkpoint it started last (if any) has finished."""
    writer = await writer_of(db)
    writer.checkpoints.settle()
    return writer


async def test_statements_run_on_the_loop_thread_and_what_may_wait_on_the_worker(
    db: Database, checkpoints: Checkpoints
) -> None:
    trace = Trace(db)
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
    async with db.write() as s:
        await s.execute(text("INSERT INTO t (name) VALUES ('a')"))
        await s.execute(text("UPDATE t SET name = :n WHERE id = :i"), [{"n": "a", "i": i} for i in (1, 2, 3)])
        bulk = [{"n": f"b{i}"} for i in range(BULK_ROWS + 1)]
        await s.execute(text("DELETE FROM t WHERE name = :n"), bulk)
    async with db.read() as s:
        assert (await s.execute(text("SELECT name FROM t"))).scalar_one() == "a"
        await s.execute(text("PRAGMA user_version"))
        await s.execute(text("SELECT 'long', COUNT(*) FROM t").execution_options(**{LONG_READ: True}))
    loop_thread = threading.get_ident()

    assert trace.threads("INSERT") == {loop_thread}
    assert trace.threads("UPDATE") == {loop_thread}  # an executemany of a few rows (a timeline's entries)
    assert trace.threads("DELETE") and loop_thread not in trace.threads("DELETE")  # a bulk one
    assert {t for t, sql in trace.seen if sql.startswith("SELECT name")} == {loop_thread}
    long_reads = {t for t, sql in trace.seen if sql.startswith("SELECT 'long'")}
    assert long_reads and loop_thread not in long_reads  # marked long: the loop serves others meanwhile
    assert trace.threads("CREATE") == {loop_thread}
    # PRAGMAs may wait for a lock (switching to WAL takes one): not on the loop.
    pragmas = {t for t, sql in trace.seen if sql.upper().startswith("PRAGMA USER_VERSION")}
    assert pragmas and loop_thread not in pragmas
    # The write lock was free: BEGIN IMMEDIATE ran on the loop without a busy wait, and so did the COMMITs, which
    # only append to the WAL now that the writer runs its checkpoints itself.
    assert trace.threads("BEGIN IMMEDIATE") == {loop_thread}
    assert {t for t, sql in trace.seen if sql.upper() == "COMMIT"} == {loop_thread}
    # The bulk DELETE's commit was followed by a checkpoint, off the loop and on neither engine's connections.
    writer = await settled(db)
    assert len(checkpoints.seen) == 1 and checkpoints.seen[0][0] != loop_thread
    assert checkpoints.seen[0][1] is not writer._connection._conn
    assert not trace.threads("PRAGMA WAL_CHECKPOINT")
    # A read transaction's own BEGIN (deferred: it takes no lock) stays on the loop.
    assert loop_thread in {t for t, sql in trace.seen if sql.upper() == "BEGIN"}


async def test_the_writer_checkpoints_the_wal_every_so_many_commits_off_the_loop(
    db: Database, checkpoints: Checkpoints
) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    for i in range(2 * CHECKPOINT_EVERY):
        async with db.write() as s:
            await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 2000 + str(i)})
        await settled(db)
    loop_thread = threading.get_ident()
    assert len(checkpoints.seen) == 2 and loop_thread not in {thread for thread, _ in checkpoints.seen}
    assert checkpoints.seen[0][1] is checkpoints.seen[1][1]  # one checkpoint connection, kept open
    # SQLite's automatic checkpoint is off on the writer, so no COMMIT can run one on the loop.
    raw = sqlite3.connect(db.url.removeprefix("sqlite+aiosqlite:///"))
    try:
        async with db.write() as s:
            autocheckpoint = (await s.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
        assert autocheckpoint == 0
        # Every commit before the last checkpoint is in the database file: the WAL holds only what came after.
        busy, wal_frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and wal_frames < 3 * CHECKPOINT_EVERY, wal_frames
        assert raw.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2 * CHECKPOINT_EVERY
    finally:
        raw.close()


async def test_a_writer_that_never_pauses_still_has_its_wal_emptied(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite rewinds the WAL only when a writer begins while every frame is copied; commits that follow each other
    # without waiting for the checkpoint beside them never see that, and the WAL used to grow for ever (~29 MB/s
    # under the end-to-end benchmark). With a low threshold, the checkpoint thread empties it.
    monkeypatch.setattr(sqlite_driver, "WAL_RESET_FRAMES", 200)
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    wal = Path(db.url.removeprefix("sqlite+aiosqlite:///") + "-wal")
    page = 4096
    for i in range(12 * CHECKPOINT_EVERY):
        async with db.write() as s:
            await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 3000 + str(i)})
    await settled(db)
    # ~1,200 pages were written; a reset leaves at most what followed the last one (and its threshold's worth).
    assert wal.stat().st_size < 2 * 200 * (page + 24) + CHECKPOINT_EVERY * 2 * (page + 24), wal.stat().st_size


async def test_the_loop_keeps_running_while_a_writer_waits_for_another_process_lock(db: Database) -> None:
    trace = Trace(db)
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    # Another process's writer, as `foureyes worker` or a second server process would hold it.
    other = sqlite3.connect(db.url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def write() -> None:
        async with db.write() as s:
            await s.execute(text("INSERT INTO t (id) VALUES (1)"))

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.5)
    ticks_while_waiting = ticks
    assert not writing.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writing, 10)
    ticking.cancel()
    assert ticks_while_waiting >= 20  # the loop ran ~50 times in 0.5 s; a blocked loop would tick once
    # The lock was held: the try on the loop gave up at once and the wait happened on the worker.
    assert len(trace.threads("BEGIN IMMEDIATE")) == 2
    async with db.read() as s:
        assert (await s.execute(text("SELECT COUNT(*) FROM t"))).scalar_one() == 1


async def test_a_failed_statement_rolls_back_and_the_connection_stays_usable(db: Database) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    with pytest.raises(Exception, match="UNIQUE"):
        async with db.write() as s:
            await s.execute(text("INSERT INTO t (id) VALUES (1)"))
            await s.execute(text("INSERT INTO t (id) VALUES (1)"))
    async with db.write() as s:
        await s.execute(text("INSERT INTO t (id) VALUES (2)"))
    async with db.read() as s:
        assert (await s.execute(text("SELECT id FROM t"))).scalars().all() == [2]


def test_the_lists_counted_and_offset_reads_are_marked_long_and_the_seek_window_is_not() -> None:
    filtered = shape_of(ListQuery(org_id=1, maker_id=5))
    assert count_statement(filtered).get_execution_options().get(LONG_READ) is True
    assert page_statement(filtered, "startDate", True, False).get_execution_options().get(LONG_READ) is True
    assert not page_statement(filtered, "startDate", True, True).get_execution_options().get(LONG_READ)


async def test_a_write_through_a_read_transaction_is_refused(db: Database) -> None:
    # Read statements run on the loop's thread; a write there would wait for the write lock on the loop.
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    with pytest.raises(Unavailable) as refused:
        async with db.read() as s:
            await s.execute(text("INSERT INTO t (id) VALUES (1)"))
    assert "attempt to write a readonly database" in str(refused.value.__cause__)
    async with db.read() as s:
        assert (await s.execute(text("SELECT COUNT(*) FROM t"))).scalar_one() == 0


async def test_a_failed_checkpoint_leaves_the_commit_standing_and_is_retried(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    attempts: list[int] = []

    def failing_checkpoint(_conn: sqlite3.Connection) -> None:
        attempts.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite_driver, "_checkpoint", failing_checkpoint)
    for i in range(CHECKPOINT_EVERY + 1):  # with the CREATE: CHECKPOINT_EVERY + 2 commits
        async with db.write() as s:  # no error reaches the writer: its COMMIT had already succeeded
            await s.execute(text("INSERT INTO t (id) VALUES (:i)"), {"i": i})
        writer = await settled(db)
    assert len(attempts) == 3  # due at the 100th commit, and tried again after each commit while it fails
    assert writer.checkpoints.failed
    monkeypatch.undo()
    async with db.write() as s:
        await s.execute(text("INSERT INTO t (id) VALUES (-1)"))
    await settled(db)
    assert not writer.checkpoints.failed and writer.commits_since_checkpoint == 0  # it ran; the count restarts
    # A checkpoint owed to a bulk batch (well before the 100th commit) is retried after the next commit too.
    attempts.clear()
    monkeypatch.setattr(sqlite_driver, "_checkpoint", failing_checkpoint)
    async with db.write() as s:
        await s.execute(text("DELETE FROM t WHERE id = :i"), [{"i": -i} for i in range(2, BULK_ROWS + 3)])
    await settled(db)
    async with db.write() as s:
        await s.execute(text("INSERT INTO t (id) VALUES (-2)"))
    await settled(db)
    assert len(attempts) == 2 and writer.checkpoints.failed
    monkeypatch.undo()
    async with db.write() as s:
        await s.execute(text("DELETE FROM t WHERE id = -2"))
    await settled(db)
    assert not writer.checkpoints.failed and writer.commits_since_checkpoint == 0
    async with db.read() as s:
        assert (await s.execute(text("SELECT COUNT(*) FROM t"))).scalar_one() == CHECKPOINT_EVERY + 2


async def test_no_write_waits_for_a_checkpoint_in_progress(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    started, release = threading.Event(), threading.Event()
    real = sqlite_driver._checkpoint

    def slow_checkpoint(conn: sqlite3.Connection) -> int:
        started.set()
        release.wait(10)  # a checkpoint syncing a large WAL to a slow disk
        return real(conn)

    monkeypatch.setattr(sqlite_driver, "_checkpoint", slow_checkpoint)
    timer = threading.Timer(5, release.set)  # lets a driver that does wait finish, so the test fails, not hangs
    timer.start()
    try:
        for i in range(CHECKPOINT_EVERY + 20):  # with the CREATE, the 100th commit starts the checkpoint
            async with db.write() as s:
                await s.execute(text("INSERT INTO t (id) VALUES (:i)"), {"i": i})
            async with db.read() as s:
                assert (await s.execute(text("SELECT COUNT(*) FROM t"))).scalar_one() == i + 1
        written_while_checkpointing = started.is_set() and not release.is_set()
    finally:
        timer.cancel()
        release.set()
    writer = await settled(db)
    assert written_while_checkpointing  # every commit after the 100th, and reads, went on meanwhile
    assert not writer.checkpoints.failed and writer.commits_since_checkpoint == 21  # commits 101-121
