"""Shared fixtures: every integration test runs on SQLite and on PostgreSQL.

A migrated template database is built once per session and store; each test gets a fresh copy (a file
copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from foureyes.app import create_app
from foureyes.core import migrate
from foureyes.core.context import AppContext
from foureyes.core.settings import Settings

PG_ADMIN = os.environ.get("FOUREYES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STORES = ["sqlite", "postgresql"]
if os.environ.get("FOUREYES_TEST_STORES"):
    STORES = os.environ["FOUREYES_TEST_STORES"].split(",")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def base_settings(tmp: Path, url: str | None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp,
        "database_url": url,
        "secret_key": "test-secret-key-not-for-production",
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "public_base_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per store, copied for each test."""
    out: dict[str, str] = {}
    created_pg: list[str] = []
    if "sqlite" in STORES:
        tdir = tmp_path_factory.mktemp("sqlite-template")
        migrate.upgrade(base_settings(tdir, None))
        out["sqlite"] = str(tdir / "foureyes.db")
    if "postgresql" in STORES:
        name = f"foureyes_tpl_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        created_pg.append(name)
        migrate.upgrade(base_settings(tmp_path_factory.mktemp("pg-template"), _pg_url(name)))
        out["postgresql"] = name
    yield out
    for name in created_pg:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=STORES, ids=lambda s: "pg" if s == "postgresql" else s)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(store: str, templates: dict[str, str], tmp_path: Path) -> Iterator[str | None]:
    if store == "sqlite":
        shutil.copy(templates["sqlite"], tmp_path / "foureyes.db")
        yield None
        return
    name = f"foureyes_t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgresql"]}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return base_settings(tmp_path, database_url)


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AppContext]:
    context = AppContext.build(settings)
    yield context
    await context.close()


@pytest.fixture
def app(ctx: AppContext):  # type: ignore[no-untyped-def]
    return create_app(ctx.settings, ctx=ctx)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secret of every Argon2 verification run from here on (the pool calls `security.verify_secret`)."""
    from foureyes.core import security

    calls: list[str] = []
    real = security.verify_secret

    def counting(secret: str, stored_hash: str) -> bool:
        calls.append(secret)
        return real(secret, stored_hash)

    monkeypatch.setattr(security, "verify_secret", counting)
    return calls
