"""Fault-test fixtures: short downstream timeout, fast retries, a tenant with a GOODWILL-POINTS workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from tests.conftest import base_settings
from tests.factories import Tenant, make_tenant

BASE = "/api_gateway/v2/request-workflow"
FAKE_HOST = "https://crm-nightly-new.cc.capillarytech.com"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return base_settings(
        tmp_path,
        database_url,
        downstream_timeout_seconds=1.5,
        decision_wait_seconds=5,
        executor_base_backoff_seconds=0.01,
        executor_max_attempts=3,
    )


@pytest.fixture
async def tenant(ctx: AppContext) -> Tenant:
    t = await make_tenant(ctx)
    await t.user("maker", "CanMakeRequest")
    await t.user("checker", "CanCheckRequest")
    await t.user("admin", "CanConfigureWorkflows")
    return t


async def route_to(client: httpx.AsyncClient, tenant: Tenant, base_url: str) -> None:
    """Allow the documented host and route it to `base_url` (a server the test controls)."""
    r = await client.put(
        f"{BASE}/config/GOODWILL-POINTS",
        json={"allowedHosts": [FAKE_HOST], "hostRoutes": {FAKE_HOST: base_url}},
        headers=tenant.headers("admin"),
    )
    assert r.status_code == 200, r.text


async def raise_request(client: httpx.AsyncClient, tenant: Tenant, **task: Any) -> str:
    from tests.integration.workflows.conftest import goodwill_body

    body = goodwill_body()
    body["payload"]["IntouchAPITask-Payload"].update(task)
    r = await client.post(f"{BASE}/GOODWILL-POINTS", json=body, headers=tenant.headers("maker"))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["requestId"])


async def approve(client: httpx.AsyncClient, tenant: Tenant, request_id: str) -> httpx.Response:
    from tests.integration.workflows.conftest import decision

    return await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(request_id), headers=tenant.headers("checker"))
