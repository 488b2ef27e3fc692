"""The database going away and coming back, and a store that refuses writes.

PostgreSQL: the app talks to the shared server through a TCP proxy this test owns (the machine's server is
never stopped); cutting the proxy is the database restarting. SQLite: a read-only database and a full disk,
produced with `PRAGMA query_only` / `PRAGMA max_page_count` on the write connection (the tests run as root,
for whom a chmod'ed file is still writable); SQLite raises the same errors as for a read-only file and ENOSPC.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from foureyes.app import create_app
from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from tests.conftest import base_settings
from tests.factories import Tenant
from tests.faults.conftest import BASE, raise_request, route_to
from tests.faults.servers import ScriptedServer, TcpProxy


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["data"] is None and body["errors"] and body["errors"][0]["message"], body


@pytest.fixture
async def proxied(store: str, settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient]]:
    """An app whose PostgreSQL connections all pass through a proxy the test can cut."""
    if store != "postgresql":
        pytest.skip("the database-restart fault is a PostgreSQL one")
    url = make_url(settings.resolved_database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    via = url.set(port=proxy.port).render_as_string(hide_password=False)
    app_ctx = AppContext.build(base_settings(tmp_path / "node", via))
    app = create_app(app_ctx.settings, ctx=app_ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield proxy, c
    await proxy.cut()
    await app_ctx.close()


async def test_database_restart_answers_503_quickly_then_recovers_without_restart(
    proxied: tuple[TcpProxy, httpx.AsyncClient], tenant: Tenant
) -> None:
    proxy, c = proxied
    listing = f"{BASE}/requests"
    assert (await c.get(listing, headers=tenant.headers("maker"))).status_code == 200

    await proxy.cut()
    started = time.monotonic()
    during = await asyncio.gather(
        *(c.get(listing, headers=tenant.headers("maker")) for _ in range(5)),
        *(c.get(f"{BASE}/requests/nope", headers=tenant.headers("checker")) for _ in range(3)),
        c.get("/readyz"),
    )
    elapsed = time.monotonic() - started
    for r in during[:-1]:
        assert_unavailable(r)
    assert during[-1].status_code == 503
    assert elapsed < 5, f"503s took {elapsed:.1f}s"

    await proxy.restore()
    deadline = time.monotonic() + 15
    status = 0
    while time.monotonic() < deadline:
        status = (await c.get(listing, headers=tenant.headers("maker"))).status_code
        if status == 200:
            break
        await asyncio.sleep(0.2)
    assert status == 200, "the API did not recover after the database came back"
    assert (await c.get("/readyz")).status_code == 200


async def refuse_writes(ctx: AppContext, pragma: str) -> Any:
    """Every new write connection runs `pragma`; returns the listener (pass to allow_writes)."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(pragma)
        cursor.close()

    await ctx.db.write_engine.dispose()
    event.listen(ctx.db.write_engine.sync_engine, "connect", on_connect)
    return on_connect


async def allow_writes(ctx: AppContext, listener: Any) -> None:
    event.remove(ctx.db.write_engine.sync_engine, "connect", listener)
    await ctx.db.write_engine.dispose()


async def integrity(ctx: AppContext) -> tuple[str, int]:
    async with ctx.db.read() as s:
        check = (await s.execute(text("PRAGMA integrity_check"))).scalar_one()
        count = (await s.execute(text("SELECT count(*) FROM workflow_requests"))).scalar_one()
    return str(check), int(count)


@pytest.mark.parametrize(
    ("pragma", "label"),
    [("PRAGMA query_only = ON", "read-only database"), ("PRAGMA max_page_count = 1", "full disk")],
)
async def test_sqlite_refusing_writes_gives_a_clear_503_and_no_corruption(
    store: str, ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, pragma: str, label: str
) -> None:
    if store != "sqlite":
        pytest.skip("SQLite file faults")
    async with ScriptedServer() as server:
        await route_to(client, tenant, server.base_url)
        first = await raise_request(client, tenant)
        listener = await refuse_writes(ctx, pragma)
        r = await client.post(
            f"{BASE}/GOODWILL-POINTS",
            json=(await _body()),
            headers=tenant.headers("maker"),
        )
        assert_unavailable(r)
        assert "database" in r.json()["errors"][0]["message"].lower(), label
        # Reads still work while writes are refused.
        assert (await client.get(f"{BASE}/requests/{first}", headers=tenant.headers("maker"))).status_code == 200
        await allow_writes(ctx, listener)
        assert await integrity(ctx) == ("ok", 1)  # the refused write left nothing half-done
        await raise_request(client, tenant)
        assert await integrity(ctx) == ("ok", 2)


async def _body() -> dict[str, Any]:
    from tests.integration.workflows.conftest import goodwill_body

    body = goodwill_body()
    # Big enough to need new pages, so a full disk cannot be dodged by free space inside the file.
    body["payload"]["IntouchAPITask-Payload"]["body"]["reason"] = "x" * 200_000
    return body
