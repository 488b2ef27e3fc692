"""Fixtures for in-process worker tests: a tenant, a configured GOODWILL-POINTS workflow, fake downstreams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from tests.conftest import base_settings
from tests.factories import Tenant, make_tenant

BASE = "/api_gateway/v2/request-workflow"
FAKE_HOST = "https://crm-nightly-new.cc.capillarytech.com"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    # Approvals only hand jobs over; a 30 s poll proves that wake-ups, not polling, start them.
    return base_settings(
        tmp_path,
        database_url,
        decision_wait_seconds=0,
        worker_poll_seconds=30,
        worker_grace_seconds=0.5,
        worker_lease_seconds=60,
    )


@pytest.fixture
async def tenant(ctx: AppContext, client: httpx.AsyncClient) -> Tenant:
    t = await make_tenant(ctx)
    await t.user("maker", "CanMakeRequest")
    await t.user("checker", "CanCheckRequest")
    await t.user("admin", "CanConfigureWorkflows")
    r = await client.put(
        f"{BASE}/config/GOODWILL-POINTS", json={"allowedHosts": [FAKE_HOST]}, headers=t.headers("admin")
    )
    assert r.status_code == 200, r.text
    return t


def with_downstream(ctx: AppContext, handler: Handler) -> list[httpx.Request]:
    """Point the context's downstream client at `handler`; returns the list the calls are recorded in."""
    calls: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return await handler(request)

    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return calls


async def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": {"ok": True}, "errors": [], "warnings": []})


def hanging(release: asyncio.Event) -> Handler:
    async def handler(_: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json={"data": {"ok": True}, "errors": [], "warnings": []})

    return handler


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False
