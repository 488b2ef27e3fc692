"""Hostile inputs found while proving the engine: routing headers in the payload, LIKE wildcards in unit ids."""

from __future__ import annotations

import httpx
import pytest

from foureyes.core.context import AppContext
from foureyes.identity.service import IdentityService
from tests.factories import ZONE, Tenant
from tests.integration.workflows.conftest import FakeDownstream, body_for, configure, count_rows, decision, entity

BASE = "/api_gateway/v2/request-workflow"


@pytest.mark.parametrize(
    "header",
    ["Host", "host", "Content-Length", "Transfer-Encoding", "Connection", "Idempotency-Key", "Proxy-Authorization"],
)
async def test_routing_and_framing_headers_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream, header: str
) -> None:
    """A Host header would reach another virtual host behind an allow-listed address; framing headers would
    desynchronise the call; the idempotency key is ours to set."""
    await configure(client, tenant, "GOODWILL-POINTS")
    body = body_for("GOODWILL-POINTS")
    body["payload"]["IntouchAPITask-Payload"]["headers"][header] = "internal-admin.example.com"
    r = await client.post(f"{BASE}/GOODWILL-POINTS", json=body, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["code"] == 2008
    assert r.json()["errors"][0]["reference"].startswith("payload.IntouchAPITask-Payload.headers")
    assert await count_rows(ctx, "workflow_requests") == 0


async def test_ordinary_headers_reach_the_downstream(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    body = body_for("GOODWILL-POINTS")
    body["payload"]["IntouchAPITask-Payload"]["headers"]["X-CAP-CLIENT-SIGNATURE"] = "console"
    created = await client.post(f"{BASE}/GOODWILL-POINTS", json=body, headers=tenant.headers("maker@demo.test"))
    assert created.status_code == 200, created.text
    rid = created.json()["data"]["requestId"]
    await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    call = downstream.calls[0]
    assert call.headers["X-CAP-CLIENT-SIGNATURE"] == "console"
    assert call.headers["host"] == "crm-nightly-new.cc.capillarytech.com"
    assert call.headers.get_list("Idempotency-Key") == [rid]


async def test_unit_ids_with_like_wildcards_do_not_widen_visibility(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    svc = IdentityService(ctx.db)
    await svc.create_unit(tenant.org_id, "ST_1", "store", "Store underscore", ZONE)
    await svc.create_unit(tenant.org_id, "T_1", "till", "Till underscore", "ST_1")
    await svc.create_unit(tenant.org_id, "STX1", "store", "Store X", ZONE)
    await svc.create_unit(tenant.org_id, "TX1", "till", "Till X", "STX1")
    await tenant.user("scoped@demo.test", "CanCheckRequest@ST_1")
    await configure(client, tenant, "GOODWILL-POINTS")
    r = await client.post(
        f"{BASE}/GOODWILL-POINTS",
        json=body_for("GOODWILL-POINTS", entity_info=entity(till="TX1", store="STX1")),
        headers=tenant.headers("admin@demo.test"),
    )
    assert r.status_code == 200, r.text
    other_store = r.json()["data"]["requestId"]
    listed = await client.get(f"{BASE}/requests", headers=tenant.headers("scoped@demo.test"))
    assert listed.status_code == 200
    assert other_store not in listed.text
    assert listed.json()["pagination"]["totalElements"] == 0
    one = await client.get(f"{BASE}/requests/{other_store}", headers=tenant.headers("scoped@demo.test"))
    assert one.status_code == 404


@pytest.mark.parametrize(
    "rtype", ["EARN-BADGE", "CUSTOMER-STATUS-CHANGE", "POINTS-REDEMPTION", "GOODWILL-POINTS", "RETRO-TRANSACTION"]
)
async def test_body_is_echoed_and_sent_as_submitted(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream, rtype: str
) -> None:
    """Validation must not rewrite values: `points: 50` stays 50, not 50.0, for a downstream that wants an int."""
    await configure(client, tenant, rtype)
    body = body_for(rtype)
    submitted = body["payload"]["IntouchAPITask-Payload"]["body"]
    created = await client.post(f"{BASE}/{rtype}", json=body, headers=tenant.headers("maker@demo.test"))
    assert created.status_code == 200, created.text
    echoed = created.json()["data"]["details"]["IntouchAPITask-Payload"]["body"]
    assert echoed == submitted
    assert created.text.count('"points":50.0') == 0
    rid = created.json()["data"]["requestId"]
    await client.put(f"{BASE}/{rtype}", json=decision(rid), headers=tenant.headers("checker@demo.test"))
    assert downstream.bodies()[0] == submitted
    assert b"50.0" not in downstream.calls[0].content
