"""Engines and units of work for both stores.

SQLite allows one writer at a time. Writes therefore go through a separate engine whose pool holds a
single connection and whose transactions start with `BEGIN IMMEDIATE`: concurrent writers queue on the
pool in-process instead of failing with "database is locked", and a read-then-write transaction can never
hit a stale-snapshot error. Reads use their own pool and WAL lets them run beside the writer. On
PostgreSQL both handles share one engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from foureyes.core import direct
from foureyes.core.errors import Unavailable, UnstorableText
from foureyes.core.settings import Settings
from foureyes.core.sqlite_driver import driver_url

BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int, echo: bool) -> AsyncEngine:
    engine = create_async_engine(
        driver_url(url),  # statements on the loop thread, lock waits on the worker (see sqlite_driver.py)
        echo=echo,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=120,
        connect_args={"timeout": 10},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event own transaction starts (the driver's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        if immediate:
            # Begins on the loop when the lock is free; the WAL is checkpointed beside it (sqlite_driver.py).
            dbapi_conn.make_writer(BUSY_TIMEOUT_MS)
        else:
            # Read connections run their statements on the event loop's thread, where a write would wait for
            # the write lock; refusing writes here keeps every write on the write engine.
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        direct.begin(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# psycopg's own default: a statement is prepared on a connection once it has run this many times there, so one-off
# statements are never prepared while the hot paths' statements (module constants, one text per shape) are.
PREPARE_AFTER = 5


def prepare_threshold(settings: Settings) -> int | None:
    """psycopg's `prepare_threshold`: None turns server-side prepared statements off.

    Prepared, a statement is parsed and planned once per connection instead of on every execution: 20-40 % less
    SQL time per call on the hot paths (docs/performance.md). PgBouncer in transaction mode keeps them only
    from 1.21 on (`max_prepared_statements`); older poolers need `FOUREYES_DB_PREPARED_STATEMENTS=false`.
    """
    return PREPARE_AFTER if settings.db_prepared_statements else None


class Database:
    """Owns the engines; hands out read and write units of work."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.write_engine = _sqlite_engine(self.url, immediate=True, pool_size=1, echo=settings.db_echo)
            self.read_engine = _sqlite_engine(
                self.url, immediate=False, pool_size=settings.db_pool_size, echo=settings.db_echo
            )
        else:
            self.write_engine = create_async_engine(
                self.url,
                echo=settings.db_echo,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_size,
                pool_pre_ping=True,
                pool_timeout=10,
                connect_args={"prepare_threshold": prepare_threshold(settings), "connect_timeout": 5},
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def write(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        return _unit_of_work(self._write_sessions)

    def read(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A read-only unit of work (never committed)."""
        return _unit_of_work(self._read_sessions)

    async def ping(self) -> bool:
        try:
            async with self.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


@asynccontextmanager
async def _unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in a transaction; store failures that are not bugs become their API errors (503, 400)."""
    try:
        async with sessions() as session, session.begin():
            yield session
    except (OperationalError, DBAPIError) as exc:
        if _is_unavailable(exc):
            raise Unavailable(503, "The database is unavailable; try again shortly") from exc
        if _is_unstorable_text(exc):
            raise UnstorableText() from exc
        raise


def _is_unstorable_text(exc: DBAPIError) -> bool:
    """PostgreSQL refuses NUL in text and jsonb; SQLite stores it. Hostile input, not a server fault."""
    message = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "nul (0x00)" in message or "unsupported unicode escape sequence" in message


def _is_unavailable(exc: DBAPIError) -> bool:
    """Connection-level failures (server down, disk full, read-only file) rather than bad SQL."""
    if exc.connection_invalidated:
        return True
    message = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    markers = (
        "connection",
        "server closed",
        "terminating",
        "could not connect",
        "database or disk is full",
        "readonly database",
        "read-only",
        "unable to open database",
        "database is locked",
        "the database system is",
    )
    return any(m in message for m in markers)
