"""Create → approve → executed, against a recording fake downstream."""

from __future__ import annotations

import httpx

from tests.factories import Tenant
from tests.integration.workflows.conftest import FakeDownstream, allow_fake_host, decision, goodwill_body

BASE = "/api_gateway/v2/request-workflow"


async def test_create_then_approve_executes_once(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await allow_fake_host(client, tenant)
    created = await client.post(
        f"{BASE}/GOODWILL-POINTS", json=goodwill_body(), headers=tenant.headers("maker@demo.test")
    )
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert data["state"] == "AdminTask"
    assert data["requestType"] == "goodwill-points"
    assert data["details"]["IntouchAPITask-Payload"]["headers"]["Authorization"] == "Basic ****"
    assert downstream.calls == []

    approved = await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(data["requestId"]), headers=tenant.headers("checker@demo.test")
    )
    assert approved.status_code == 200, approved.text
    result = approved.json()["data"]
    assert result["state"] == "approved"
    assert result["details"]["IntouchAPITask_Output"]["status"] == 200
    assert len(downstream.calls) == 1
    call = downstream.calls[0]
    assert call.headers["Authorization"].startswith("Basic YWIx")
    assert call.headers["Idempotency-Key"] == data["requestId"]

    again = await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(data["requestId"]), headers=tenant.headers("checker2@demo.test")
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == 2002
    assert len(downstream.calls) == 1
