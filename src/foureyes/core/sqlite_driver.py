"""aiosqlite with one thread hop per statement.

SQLAlchemy's aiosqlite adapter makes four round trips to the connection's worker thread for every statement
(open a cursor, execute, fetch all rows, close the cursor). Each hop queues work for that thread and waits for
the event loop to be woken, and on a busy 2-core machine the handoffs, not SQLite, were most of the time of a
request (py-spy and cProfile: `SimpleQueue.put_nowait` and `epoll.poll` around `aiosqlite.Connection._execute`;
see docs/performance.md). This adapter runs the whole statement — cursor, execute, fetch, close — in one call
on the worker thread. Everything else (connections, transactions, errors, the pool) is the stock dialect.

Use the URL scheme `sqlite+foureyes_aiosqlite://` (registered on import; `Database` does this itself).
"""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

DRIVER = "foureyes_aiosqlite"


def _run(conn: Any, operation: Any, parameters: Any, many: bool) -> tuple[Any, list[Any], int, int | None]:
    """On the worker thread: the statement from cursor to close, returning what the caller will read."""
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


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement runs in one worker-thread call; results are kept in memory."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor is opened here: `_run` opens its own
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

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
            description, rows, rowcount, lastrowid = await self._connection._execute(
                _run, conn, operation, parameters, many
            )
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


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


class OneHopSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopSQLiteDialect")


def one_hop_url(url: str) -> str:
    """The same database through this driver (`sqlite+aiosqlite://…` → `sqlite+foureyes_aiosqlite://…`)."""
    return url.replace("sqlite+aiosqlite://", f"sqlite+{DRIVER}://", 1)
