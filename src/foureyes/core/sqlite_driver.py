"""aiosqlite, with statements run on the event loop's own thread and only waits for locks sent to its worker.

SQLAlchemy's aiosqlite adapter sends every call to the connection's worker thread: four round trips per statement
(open a cursor, execute, fetch all rows, close the cursor), plus BEGIN, COMMIT and the pool's reset ROLLBACK. Each
hop queues work for that thread and waits for the event loop to be woken: ~0.1-0.2 ms of CPU against ~5 us for a
point query on SQLite itself, so on a busy 2-core machine the handoffs, not SQLite, were most of a request's time
(py-spy and cProfile, docs/performance.md).

This adapter runs a statement — cursor, execute, fetch, close — directly on the calling thread. What can wait goes
to the worker thread, so the event loop never sleeps in SQLite's busy handler or in the disk:

- `BEGIN IMMEDIATE` when the write lock is taken: it is first tried on the loop with no busy wait (nearly always
  free: the engine's single write connection serialises this process's writers), and only if another process
  (`foureyes worker`, a second server process) holds the lock is it sent to the worker to wait up to busy_timeout;
- `PRAGMA`s (run when a connection opens; switching to WAL takes a lock);
- `executemany` of more than BULK_ROWS rows (imports); a few rows (a timeline's entries) stay on the loop;
- statements marked as long reads (`core.dialect.long_read`: a COUNT or OFFSET walk over a filtered list), so
  the loop serves other requests meanwhile (SQLite releases the GIL while it steps);
- WAL checkpoints, which write and sync the database file. The write connection (`writer`) turns SQLite's
  automatic checkpoint off — it would run inside a COMMIT — and after every CHECKPOINT_EVERY commits, and after
  any commit that wrote a bulk batch, starts a passive checkpoint on a connection and thread of its own
  (`Checkpointer`) without waiting for it: SQLite lets a checkpoint run beside the writer, so no commit and no
  later transaction waits for one. Its COMMITs then only append to the WAL (no sync with `synchronous=NORMAL`)
  and run on the loop. A passive checkpoint never empties the WAL, though: SQLite rewinds it only when a writer
  begins while every frame is already copied, which a writer that never pauses never does (under sustained load
  the WAL grew by ~29 MB a second). Once it holds WAL_RESET_FRAMES, the checkpoint thread runs a TRUNCATE
  checkpoint, which waits for the writer's transaction and the readers, copies the rest and empties the file;
  writers wait for it meanwhile (the copy of what is left, and any read still on the WAL, up to RESET_WAIT_MS).

Everything else cannot wait for a lock: in WAL mode readers never block and never block the writer, and a write
statement runs inside a transaction that already holds the write lock. ROLLBACK only drops the WAL frames.
Connections are opened with `check_same_thread=False`; calls on one connection never overlap (one statement at a
time under the adapter's mutex, transactions driven in order by SQLAlchemy).

Use the URL scheme `sqlite+foureyes_aiosqlite://` (registered on import; `Database` does this itself).
"""

from __future__ import annotations

import collections
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

from foureyes.core.logging import get_logger

DRIVER = "foureyes_aiosqlite"
# Execution option for a read that may walk many rows (a COUNT or an OFFSET over a filtered list; set by
# `core.dialect.long_read`): this driver runs it on its worker thread, where SQLite releases the GIL, instead of on
# the event loop's thread. PostgreSQL ignores it: its statements always wait on the network.
LONG_READ = "foureyes_long_read"
BULK_ROWS = 50
# Write commits between two passive checkpoints. A commit adds a few pages to the WAL (a created request: ~5), so
# each checkpoint copies a few hundred pages, and none runs inside a request's COMMIT. They do not bound the WAL's
# size under sustained writes; WAL_RESET_FRAMES does.
CHECKPOINT_EVERY = 100
# 64 MiB of 4 KiB pages: under full load a reset every few seconds. A reader looks a page up in the WAL's index
# (one hash table per 4,096 frames), so a WAL that only grows also slows every read.
WAL_RESET_FRAMES = 16_384
RESET_WAIT_MS = 1_000  # the writer's transactions and the reads last milliseconds
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
SQLITE_BUSY = 5

log = get_logger("foureyes.core.sqlite_driver")


def may_wait(operation: str) -> bool:
    """Whether a statement can wait for a lock or the disk, and so must not run on the event loop's thread."""
    head = operation.lstrip()[:16].upper()
    return head.startswith(("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "PRAGMA"))


def _begin_without_waiting(conn: sqlite3.Connection, busy_timeout_ms: int) -> bool:
    """`BEGIN IMMEDIATE` if the write lock is free at once (True); False, with no transaction, if it is held."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute(BEGIN_IMMEDIATE)
        return True
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY:
            return False
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")


def _checkpoint(conn: sqlite3.Connection) -> int:
    """A passive checkpoint; returns how many frames the WAL holds (copied or not)."""
    # PASSIVE never waits for readers or the writer: frames still in a reader's snapshot, or appended meanwhile,
    # are copied by a later checkpoint.
    _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


def _reset_wal(conn: sqlite3.Connection) -> None:
    # TRUNCATE waits (the connection's busy_timeout) for the writer's transaction to end and for readers to leave
    # the WAL, holding the write lock meanwhile, then copies what is left and truncates the file. If the wait
    # runs out it has done a passive checkpoint only, and the next checkpoint tries again.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


class Checkpointer:
    """Passive WAL checkpoints of one database file, one at a time, on a connection and thread of their own, and
    a TRUNCATE checkpoint when the WAL has grown to WAL_RESET_FRAMES (the module's docstring says why).

    The write connection used to run them itself (on aiosqlite's worker, awaited inside its COMMIT): the committing
    request and every write queued behind it waited 7-18 ms, every CHECKPOINT_EVERY commits. A checkpoint needs no
    lock the writer holds, so it now runs beside the writer and nobody waits for it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.failed = False  # the last checkpoint raised: the writer asks for another after its next commit
        self._conn: sqlite3.Connection | None = None  # opened on the checkpoint thread, on first use
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="foureyes-checkpoint")
        self._running: Future[None] | None = None
        self._closed = False  # start and close both run on the event loop's thread

    def start(self) -> bool:
        """Start a checkpoint unless one is still running (False: the writer asks again after its next commit)."""
        if self._closed or (self._running is not None and not self._running.done()):
            return False
        self._running = self._thread.submit(self._run)
        return True

    def settle(self) -> None:
        """Wait for the checkpoint in flight, if any (tests; `close` waits through the thread's shutdown)."""
        running = self._running
        if running is not None:
            running.exception()  # waits; `_run` has logged any failure

    def close(self) -> None:
        self._closed = True
        self._thread.shutdown(wait=True)  # at most one short checkpoint to finish
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._conn.execute(f"PRAGMA busy_timeout={RESET_WAIT_MS}")
            if _checkpoint(self._conn) >= WAL_RESET_FRAMES:
                _reset_wal(self._conn)
            self.failed = False
        except Exception as error:  # the commits before it stand: a failed checkpoint (disk full) is only retried
            self.failed = True
            log.warning("wal_checkpoint_failed", error=str(error))


def _run(conn: Any, operation: Any, parameters: Any, many: bool) -> tuple[Any, list[Any], int, int | None]:
    """The statement from cursor to close, returning what the caller will read."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement runs in one call (the module docstring says on which thread)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "long_read")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor is opened here: `_run` opens its own
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.long_read = False  # set per statement by the dialect's do_execute

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _call(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            conn = self._connection._conn  # raises ValueError once closed, like any aiosqlite call
            adapt: InlineConnection = self._adapt_connection  # type: ignore[assignment]
            bulk = many and len(parameters) > BULK_ROWS
            if operation == BEGIN_IMMEDIATE and adapt.writer and _begin_without_waiting(conn, adapt.busy_timeout_ms):
                description, rows, rowcount, lastrowid = None, [], -1, None
            elif self.long_read or bulk or may_wait(operation):
                description, rows, rowcount, lastrowid = await self._connection._execute(
                    _run, conn, operation, parameters, many
                )
            else:
                description, rows, rowcount, lastrowid = _run(conn, operation, parameters, many)
            adapt.bulk_written = adapt.bulk_written or bulk
        self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._call(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._call(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("writer", "busy_timeout_ms", "commits_since_checkpoint", "bulk_written", "checkpoints")
    _cursor_cls = InlineCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.writer = False  # set by `make_writer` on the write engine's connection
        self.busy_timeout_ms = 0
        self.commits_since_checkpoint = 0
        self.bulk_written = False
        self.checkpoints: Checkpointer | None = None

    def make_writer(self, busy_timeout_ms: int) -> None:
        """This connection takes the write lock: it begins without waiting when it can and has the WAL
        checkpointed beside it."""
        conn: sqlite3.Connection = self._connection._conn
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self.writer, self.busy_timeout_ms = True, busy_timeout_ms
        path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
        if path:  # an in-memory database has no WAL to checkpoint
            self.checkpoints = Checkpointer(path)

    def rollback(self) -> None:
        if self._connection._connection:
            try:
                self._connection._conn.rollback()
            except Exception as error:
                self._handle_exception(error)

    def commit(self) -> None:
        if not self._connection._connection:
            return
        try:
            self._connection._conn.commit()
        except Exception as error:
            self._handle_exception(error)
        checkpoints = self.checkpoints
        if checkpoints is not None:
            self.commits_since_checkpoint += 1
            due = self.commits_since_checkpoint >= CHECKPOINT_EVERY or self.bulk_written or checkpoints.failed
            if due and checkpoints.start():
                self.commits_since_checkpoint, self.bulk_written = 0, False

    def close(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.close()
        super().close()


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> InlineConnection:
        # The connection is used from the event loop's thread as well as aiosqlite's (module docstring).
        connection = self.aiosqlite.connect(*arg, **(kw | {"check_same_thread": False}))
        connection._thread.daemon = True
        return InlineConnection(self, await_(connection))


class InlineSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        cursor.long_read = context is not None and bool(context.execution_options.get(LONG_READ))
        super().do_execute(cursor, statement, parameters, context)

    @classmethod
    def import_dbapi(cls) -> InlineDBAPI:
        return InlineDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")


def driver_url(url: str) -> str:
    """The same database through this driver (`sqlite+aiosqlite://…` → `sqlite+foureyes_aiosqlite://…`)."""
    return url.replace("sqlite+aiosqlite://", f"sqlite+{DRIVER}://", 1)
