"""Create: all six types, the seed's documented shape, masking and sealing, and every refusal of §4."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from foureyes.core.context import AppContext
from tests.factories import CONCEPT, STORE, TILL, ZONE, Tenant, make_tenant
from tests.integration.workflows.conftest import (
    ALL_TYPES,
    BASIC,
    FAKE_HOST,
    FakeDownstream,
    body_for,
    configure,
    count_rows,
    decision,
    entity,
    seed_earn_badge_body,
)

BASE = "/api_gateway/v2/request-workflow"
WIRE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
CREDENTIAL = BASIC.split(" ", 1)[1]


async def _raw_dump(ctx: AppContext, table: str) -> str:
    async with ctx.db.read() as s:
        rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()
    return repr([tuple(r) for r in rows])


async def test_seed_earn_badge_example_is_accepted_in_documented_shape(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "EARN-BADGE")
    seed = seed_earn_badge_body()
    r = await client.post(f"{BASE}/EARN-BADGE", json=seed, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["requestType"] == "earn-badge"
    assert data["state"] == "AdminTask"
    assert data["userId"] == tenant.users["maker@demo.test"]
    assert data["userName"] == "maker@demo.test"
    assert WIRE_TIME.match(data["startTime"]), data["startTime"]
    assert data["endTime"] is None
    details = data["details"]
    assert list(details)[:3] == ["IntouchAPITask-Payload", "ValidateMakerAccess_Output", "ValidatePayload_Output"]
    assert details["ValidateMakerAccess_Output"] is True
    assert details["ValidatePayload_Output"] is True
    echo = details["IntouchAPITask-Payload"]
    submitted = seed["payload"]["IntouchAPITask-Payload"]
    assert echo["hostname"] == submitted["hostname"]
    assert echo["path"] == submitted["path"] and echo["method"] == "POST"
    assert echo["body"] == submitted["body"]
    assert echo["headers"] == {"Authorization": "Basic ****", "content-type": "application/json"}
    assert downstream.calls == []


@pytest.mark.parametrize("rtype", ALL_TYPES)
async def test_every_type_is_created_masked_and_sealed(
    client: httpx.AsyncClient,
    tenant: Tenant,
    ctx: AppContext,
    downstream: FakeDownstream,
    rtype: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Another test's in-thread uvicorn may have applied a dictConfig that disables existing loggers.
    for name in ("foureyes", "foureyes.http"):
        logging.getLogger(name).disabled = False
    caplog.set_level(logging.INFO)
    await configure(client, tenant, rtype)
    headers = tenant.headers("maker@demo.test")
    r = await client.post(f"{BASE}/{rtype}", json=body_for(rtype), headers=headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["requestType"] == rtype.lower()
    assert data["state"] == "AdminTask"
    assert data["details"]["IntouchAPITask-Payload"]["headers"]["Authorization"] == "Basic ****"

    # Every later answer masks it too: get, list, timeline, decide.
    one = await client.get(f"{BASE}/requests/{data['requestId']}?timeline=true", headers=headers)
    listed = await client.get(f"{BASE}/requests", headers=headers)
    decided = await client.put(
        f"{BASE}/{rtype}", json=decision(data["requestId"]), headers=tenant.headers("checker@demo.test")
    )
    for answer in (r, one, listed, decided):
        assert answer.status_code == 200, answer.text
        assert CREDENTIAL not in answer.text
        assert "Basic ****" in answer.text
    assert decided.json()["data"]["state"] == "approved"
    # The downstream got the real credential (so it was sealed, not thrown away) ...
    assert downstream.calls[0].headers["Authorization"] == BASIC
    # ... and no table holds it in clear.
    for table in ("workflow_requests", "workflow_request_events", "audit_events", "outbox_events", "execution_jobs"):
        assert CREDENTIAL not in await _raw_dump(ctx, table), table
    # Nor any log line.
    out, err = capfd.readouterr()
    assert CREDENTIAL not in out + err + caplog.text
    assert "/request-workflow/" in err + caplog.text  # the request log lines were captured


async def test_issue_badge_scalar_customers_is_echoed_as_list(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "ISSUE-BADGE")
    r = await client.post(
        f"{BASE}/ISSUE-BADGE", json=body_for("ISSUE-BADGE"), headers=tenant.headers("maker@demo.test")
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["IntouchAPITask-Payload"]["body"]["customers"] == [113460811]


def _errors(r: httpx.Response) -> list[dict[str, Any]]:
    body = r.json()
    assert body["data"] is None
    return list(body["errors"])


async def _refused(
    client: httpx.AsyncClient, ctx: AppContext, rtype: str, body: Any, headers: dict[str, str], status: int = 400
) -> list[dict[str, Any]]:
    before = await count_rows(ctx, "workflow_requests"), await count_rows(ctx, "audit_events")
    r = await client.post(f"{BASE}/{rtype}", json=body, headers=headers)
    assert r.status_code == status, r.text
    after = await count_rows(ctx, "workflow_requests"), await count_rows(ctx, "audit_events")
    assert after == before, "a refused create stored something"
    return _errors(r)


async def test_wrong_method_path_and_host_are_all_listed(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    await configure(client, tenant, "EARN-BADGE")
    body = body_for("EARN-BADGE", host="https://evil.example.com", method="DELETE", path="/api_gateway/v1/badges/x")
    errors = await _refused(client, ctx, "EARN-BADGE", body, tenant.headers("maker@demo.test"))
    refs = {e["reference"] for e in errors}
    assert {e["code"] for e in errors} == {2008}
    assert {
        "payload.IntouchAPITask-Payload.method",
        "payload.IntouchAPITask-Payload.path",
        "payload.IntouchAPITask-Payload.hostname",
    } <= refs
    assert all(e["message"] for e in errors)


@pytest.mark.parametrize(
    "host",
    [
        "https://93.184.216.34",
        "http://127.0.0.1",
        "http://2130706433",
        "http://0x7f.0.0.1",
        "http://[::1]",
        "https://[2001:db8::1]:443",
        "https://user:pw@crm-nightly-new.cc.capillarytech.com",
        "https://crm-nightly-new.cc.capillarytech.com@evil.example.com",
        "https://crm-nightly-new.cc.capillarytech.com/evil",
        "https://crm-nightly-new.cc.capillarytech.com.evil.example.com",
        "https://crm-nightly-new.cc.capillarytech.com?x=1",
        "ftp://crm-nightly-new.cc.capillarytech.com",
        "crm-nightly-new.cc.capillarytech.com",
    ],
)
async def test_unsafe_or_foreign_hostnames_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, host: str
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    errors = await _refused(
        client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS", host=host), tenant.headers("maker@demo.test")
    )
    assert [e["reference"] for e in errors] == ["payload.IntouchAPITask-Payload.hostname"]
    assert errors[0]["code"] == 2008


async def test_allowed_host_spelled_differently_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    body = body_for("GOODWILL-POINTS", host="HTTPS://CRM-nightly-new.cc.capillarytech.com:443/")
    r = await client.post(f"{BASE}/GOODWILL-POINTS", json=body, headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 200, r.text


async def test_default_config_allows_only_this_server(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    """A new org: allowedHosts holds only this server's base URL, so the seed's host is refused."""
    errors = await _refused(
        client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS"), tenant.headers("maker@demo.test")
    )
    assert errors[0]["reference"] == "payload.IntouchAPITask-Payload.hostname"


MISSING_FIELDS = {
    "EARN-BADGE": {"triggeredBy", "customerId", "requestId", "badgeMetaId"},
    "ISSUE-BADGE": {"triggeredBy", "customers", "requestId", "badgeMetaId"},
    "CUSTOMER-STATUS-CHANGE": {"reason", "label"},
    "POINTS-REDEMPTION": {"root"},
    "GOODWILL-POINTS": {
        "referenceId",
        "reason",
        "baseType",
        "programId",
        "awardingTillId",
        "earningEntityType",
        "earningEntityId",
        "points",
        "source",
    },
    "RETRO-TRANSACTION": {"oldType", "newType", "transactionId", "customerId"},
}


@pytest.mark.parametrize("rtype", ALL_TYPES)
async def test_missing_body_fields_are_each_listed(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, rtype: str
) -> None:
    await configure(client, tenant, rtype)
    body = body_for(rtype, body={})
    errors = await _refused(client, ctx, rtype, body, tenant.headers("maker@demo.test"))
    refs = {e["reference"] for e in errors}
    expected = {f"payload.IntouchAPITask-Payload.body.{f}" for f in MISSING_FIELDS[rtype]}
    assert expected <= refs, refs
    assert {e["code"] for e in errors} == {2008}


async def test_status_change_query_fields_are_required(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    await configure(client, tenant, "CUSTOMER-STATUS-CHANGE")
    body = body_for("CUSTOMER-STATUS-CHANGE", queryParams={"source": "INSTORE"}, body={"reason": "x"})
    errors = await _refused(client, ctx, "CUSTOMER-STATUS-CHANGE", body, tenant.headers("maker@demo.test"))
    refs = {e["reference"] for e in errors}
    assert {
        "payload.IntouchAPITask-Payload.queryParams.identifierName",
        "payload.IntouchAPITask-Payload.queryParams.identifierValue",
        "payload.IntouchAPITask-Payload.body.label",
    } <= refs


async def test_every_reason_at_once_entity_and_task(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    """Unit chain problems and payload problems come back together, not one per round trip."""
    await configure(client, tenant, "GOODWILL-POINTS")
    body = body_for("GOODWILL-POINTS", host="http://10.0.0.1", body={}, entity_info=entity(till="404"))
    errors = await _refused(client, ctx, "GOODWILL-POINTS", body, tenant.headers("maker@demo.test"))
    refs = {e["reference"] for e in errors}
    assert "entityInfo.tillId" in refs
    assert "payload.IntouchAPITask-Payload.hostname" in refs
    assert "payload.IntouchAPITask-Payload.body.points" in refs


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"tillId": "999", "storeId": STORE, "zoneId": ZONE, "conceptId": CONCEPT}, "tillId"),
        ({"tillId": TILL, "storeId": f"{STORE}9", "zoneId": ZONE, "conceptId": CONCEPT}, "tillId"),
        ({"tillId": TILL, "storeId": STORE, "zoneId": ZONE, "conceptId": "1"}, "conceptId"),
        ({"tillId": STORE, "storeId": STORE, "zoneId": ZONE, "conceptId": CONCEPT}, "tillId"),
    ],
)
async def test_entity_info_must_name_a_chain_of_this_org(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, info: dict[str, str], field: str
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    errors = await _refused(
        client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS", entity_info=info), tenant.headers("maker@demo.test")
    )
    assert f"entityInfo.{field}" in {e["reference"] for e in errors}
    assert {e["code"] for e in errors} == {2008}


async def test_another_orgs_units_are_refused(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    other = await make_tenant(ctx, org_id=200, name="Other", second_store=False)
    await other.user("m200@demo.test", "CanMakeRequest")
    # Org 200 has units with the same ids, but org 100's maker naming other ids that only org 200 has is refused.
    from foureyes.identity.service import IdentityService

    await IdentityService(ctx.db).create_unit(200, "7777", "till", "Foreign till", STORE)
    await configure(client, tenant, "GOODWILL-POINTS")
    errors = await _refused(
        client,
        ctx,
        "GOODWILL-POINTS",
        body_for("GOODWILL-POINTS", entity_info=entity(till="7777")),
        tenant.headers("maker@demo.test"),
    )
    assert [e["reference"] for e in errors] == ["entityInfo.tillId"]


async def test_maker_permission_and_scope(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    await tenant.user("storemaker@demo.test", f"CanMakeRequest@{STORE}9")
    errors = await _refused(
        client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS"), tenant.headers("checker@demo.test"), status=403
    )
    assert errors[0]["code"] == 2001
    errors = await _refused(
        client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS"), tenant.headers("storemaker@demo.test"), status=403
    )
    assert errors[0]["code"] == 2001
    # The same scoped maker may raise requests for its own store's till.
    ok = await client.post(
        f"{BASE}/GOODWILL-POINTS",
        json=body_for("GOODWILL-POINTS", entity_info=entity(till=f"{TILL}9", store=f"{STORE}9")),
        headers=tenant.headers("storemaker@demo.test"),
    )
    assert ok.status_code == 200, ok.text


async def test_unknown_type_and_org_header(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    maker = tenant.headers("maker@demo.test")
    errors = await _refused(client, ctx, "BUY-A-YACHT", body_for("GOODWILL-POINTS"), maker)
    assert errors[0]["code"] == 2009
    await configure(client, tenant, "GOODWILL-POINTS")
    no_org = {k: v for k, v in maker.items() if k != "X-CAP-API-AUTH-ORG-ID"}
    errors = await _refused(client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS"), no_org)
    assert errors[0]["code"] == 2026
    errors = await _refused(
        client, ctx, "GOODWILL-POINTS", body_for("GOODWILL-POINTS"), {**maker, "X-CAP-API-AUTH-ORG-ID": "abc"}
    )
    assert errors[0]["code"] == 2005
    errors = await _refused(
        client,
        ctx,
        "GOODWILL-POINTS",
        body_for("GOODWILL-POINTS"),
        {**maker, "X-CAP-API-AUTH-ORG-ID": "200"},
        status=403,
    )
    assert errors[0]["code"] == 2001


@pytest.mark.parametrize("garbage", [None, [], "x", {"entityInfo": {}}, {"payload": {}}, {"entityInfo": 1}])
async def test_hostile_bodies_are_400_not_500(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, garbage: Any
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS")
    await _refused(client, ctx, "GOODWILL-POINTS", garbage, tenant.headers("maker@demo.test"))


async def test_host_route_is_used_but_hostname_echoed(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, "GOODWILL-POINTS", hostRoutes={FAKE_HOST: "http://downstream.internal:1900"})
    created = await client.post(
        f"{BASE}/GOODWILL-POINTS", json=body_for("GOODWILL-POINTS"), headers=tenant.headers("maker@demo.test")
    )
    assert created.json()["data"]["details"]["IntouchAPITask-Payload"]["hostname"] == FAKE_HOST
    r = await client.put(
        f"{BASE}/GOODWILL-POINTS",
        json=decision(created.json()["data"]["requestId"]),
        headers=tenant.headers("checker@demo.test"),
    )
    assert r.status_code == 200, r.text
    assert str(downstream.calls[0].url).startswith("http://downstream.internal:1900/internal/goodwill/")
