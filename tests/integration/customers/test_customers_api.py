"""The customers registry over HTTP: create, lookup, status change with idempotency, org isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from foureyes.audit.models import AuditEvent
from foureyes.core.context import AppContext
from foureyes.customers.models import CustomerStatusChange
from tests.factories import Tenant, basic, make_tenant

STATUS = "/v2/customers/lookup/status"


@pytest.fixture
async def tenant(ctx: AppContext) -> Tenant:
    t = await make_tenant(ctx, 100)
    await t.user("admin", "CustomersWrite")
    await t.user("reader", "BadgesRead")
    await t.user("maker", "CanMakeRequest")
    return t


async def create(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post("/v2/customers", json=body, headers=tenant.headers("admin"))


def lookup_params(name: str, value: str) -> dict[str, str]:
    return {"source": "INSTORE", "identifierName": name, "identifierValue": value}


def status_params(name: str, value: str) -> dict[str, str]:
    return {**lookup_params(name, value), "accountId": "", "use_async": "false"}


async def test_create_with_explicit_id_answers_envelope(client: httpx.AsyncClient, tenant: Tenant) -> None:
    res = await create(client, tenant, id=382477526, mobile="919999999999", email="c@demo.test", externalId="ext-1")
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["errors"] == [] and body["warnings"] == []
    data = body["data"]
    assert data["id"] == 382477526
    assert data["mobile"] == "919999999999" and data["externalId"] == "ext-1"
    assert data["status"]["label"] == "Active"
    assert data["statusHistory"] == []


async def test_server_assigns_increasing_ids(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = (await create(client, tenant, mobile="910000000001")).json()["data"]["id"]
    second = (await create(client, tenant, mobile="910000000002")).json()["data"]["id"]
    assert second > first >= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("mobile", "919999999999"), ("email", "c@demo.test"), ("externalId", "ext-1"), ("cardnumber", "CARD-1")],
)
async def test_duplicate_identifier_is_409_1030(
    client: httpx.AsyncClient, tenant: Tenant, field: str, value: str
) -> None:
    assert (await create(client, tenant, **{field: value})).status_code == 200
    res = await create(client, tenant, **{field: value})
    assert res.status_code == 409
    assert res.json()["errors"][0]["code"] == 1030
    assert res.json()["errors"][0]["reference"] == field
    assert res.json()["data"] is None


async def test_duplicate_id_is_409_1031(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await create(client, tenant, id=7)).status_code == 200
    res = await create(client, tenant, id=7, mobile="919000000000")
    assert res.status_code == 409
    assert res.json()["errors"][0]["code"] == 1031


@pytest.mark.parametrize(
    "body",
    [{"mobile": "abc"}, {"email": "not-an-email"}, {"id": -3}, {"id": "x"}, {"nickname": "z"}, {"firstname": ""}],
)
async def test_hostile_create_bodies_are_400(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> None:
    res = await client.post("/v2/customers", json=body, headers=tenant.headers("admin"))
    assert res.status_code == 400
    assert res.json()["errors"]


async def test_create_needs_customers_write(client: httpx.AsyncClient, tenant: Tenant) -> None:
    res = await client.post("/v2/customers", json={"mobile": "919999999999"}, headers=tenant.headers("reader"))
    assert res.status_code == 403
    unauth = await client.post("/v2/customers", json={"mobile": "919999999999"})
    assert unauth.status_code == 401


async def test_wrong_org_header_is_403(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {**basic("admin"), "X-CAP-API-AUTH-ORG-ID": "999"}
    res = await client.post("/v2/customers", json={"mobile": "919999999999"}, headers=headers)
    assert res.status_code == 403
    # Without the header the caller's own org is used.
    ok = await client.post("/v2/customers", json={"mobile": "919999999999"}, headers=basic("admin"))
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [("mobile", "919999999999"), ("email", "c@demo.test"), ("externalId", "ext-1"), ("cardnumber", "C-9")],
)
async def test_lookup_by_each_identifier(client: httpx.AsyncClient, tenant: Tenant, name: str, value: str) -> None:
    await create(client, tenant, id=5, mobile="919999999999", email="c@demo.test", externalId="ext-1", cardnumber="C-9")
    for user in ("admin", "reader"):
        res = await client.get("/v2/customers/lookup", params=lookup_params(name, value), headers=tenant.headers(user))
        assert res.status_code == 200, res.text
        assert res.json()["data"]["id"] == 5
        assert res.json()["data"]["status"]["label"] == "Active"


async def test_lookup_errors(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers("admin")
    unknown = await client.get("/v2/customers/lookup", params=lookup_params("mobile", "911"), headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == 1026
    bad = await client.get("/v2/customers/lookup", params=lookup_params("wechat", "x"), headers=headers)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == 1028
    missing = await client.get("/v2/customers/lookup", headers=headers)
    assert missing.status_code == 400
    forbidden = await client.get(
        "/v2/customers/lookup", params=lookup_params("mobile", "911"), headers=tenant.headers("maker")
    )
    assert forbidden.status_code == 403


async def test_status_change_records_history_and_audit(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    res = await client.put(
        STATUS,
        params=status_params("mobile", "919999999999"),
        json={"reason": "fraud suspected", "label": "Suspended"},
        headers=tenant.headers("admin"),
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["errors"] == [] and body["warnings"] == []
    assert body["data"]["status"]["label"] == "Suspended"
    history = body["data"]["statusHistory"]
    assert [(h["oldLabel"], h["newLabel"], h["reason"]) for h in history] == [
        ("Active", "Suspended", "fraud suspected")
    ]
    seen = await client.get(
        "/v2/customers/lookup", params=lookup_params("mobile", "919999999999"), headers=tenant.headers("reader")
    )
    assert seen.json()["data"]["status"]["label"] == "Suspended"
    assert len(seen.json()["data"]["statusHistory"]) == 1
    async with ctx.db.read() as s:
        actions = list(await s.scalars(select(AuditEvent.action).where(AuditEvent.org_id == 100)))
    assert "customer.status_changed" in actions


async def test_status_change_errors(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    body = {"reason": "r", "label": "Suspended"}
    admin = tenant.headers("admin")
    unknown = await client.put(STATUS, params=status_params("mobile", "1234567"), json=body, headers=admin)
    assert (unknown.status_code, unknown.json()["errors"][0]["code"]) == (404, 1026)
    bad_name = await client.put(STATUS, params=status_params("fbid", "1"), json=body, headers=admin)
    assert (bad_name.status_code, bad_name.json()["errors"][0]["code"]) == (400, 1028)
    reader = await client.put(
        STATUS, params=status_params("mobile", "919999999999"), json=body, headers=tenant.headers("reader")
    )
    assert reader.status_code == 403
    for hostile in ({"reason": "r"}, {"label": "Suspended"}, {"reason": "r", "label": "<script>"}, [1]):
        res = await client.put(STATUS, params=status_params("mobile", "919999999999"), json=hostile, headers=admin)
        assert res.status_code == 400, hostile


async def test_same_label_is_a_warning_not_a_change(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    res = await client.put(
        STATUS,
        params=status_params("mobile", "919999999999"),
        json={"reason": "no-op", "label": "Active"},
        headers=tenant.headers("admin"),
    )
    assert res.status_code == 200
    assert res.json()["warnings"][0]["code"] == 1034
    assert res.json()["data"]["statusHistory"] == []


async def _history_rows(ctx: AppContext) -> int:
    async with ctx.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(CustomerStatusChange)) or 0)


async def test_idempotency_key_applies_once(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    headers = tenant.headers("admin", **{"Idempotency-Key": "wf-req-1"})
    params = status_params("mobile", "919999999999")
    first = await client.put(STATUS, params=params, json={"reason": "r", "label": "Suspended"}, headers=headers)
    # Someone reactivates the customer in between; a retry of the first request must not suspend again.
    await client.put(STATUS, params=params, json={"reason": "ok", "label": "Active"}, headers=tenant.headers("admin"))
    again = await client.put(STATUS, params=params, json={"reason": "r", "label": "Suspended"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert await _history_rows(ctx) == 2
    reused = await client.put(STATUS, params=params, json={"reason": "other", "label": "Blocked"}, headers=headers)
    assert (reused.status_code, reused.json()["errors"][0]["code"]) == (409, 1032)
    assert await _history_rows(ctx) == 2


async def test_concurrent_repeats_of_one_key_apply_once(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    headers = tenant.headers("admin", **{"Idempotency-Key": "wf-req-2"})
    params = status_params("mobile", "919999999999")
    results = await asyncio.gather(
        *[
            client.put(STATUS, params=params, json={"reason": "r", "label": "Suspended"}, headers=headers)
            for _ in range(5)
        ]
    )
    assert [r.status_code for r in results] == [200] * 5
    assert len({r.text for r in results}) == 1
    assert await _history_rows(ctx) == 1


async def test_failed_attempt_does_not_burn_the_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers("admin", **{"Idempotency-Key": "wf-req-3"})
    params = status_params("mobile", "919999999999")
    missing = await client.put(STATUS, params=params, json={"reason": "r", "label": "Suspended"}, headers=headers)
    assert missing.status_code == 404
    await create(client, tenant, id=9, mobile="919999999999")
    later = await client.put(STATUS, params=params, json={"reason": "r", "label": "Suspended"}, headers=headers)
    assert later.status_code == 200
    assert later.json()["data"]["status"]["label"] == "Suspended"


async def test_orgs_are_isolated(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    other = await make_tenant(ctx, 200, "Other Org")
    await other.user("other-admin", "CustomersWrite")
    await create(client, tenant, id=9, mobile="919999999999")
    # The same id and identifiers are free in another org.
    mine = await client.post(
        "/v2/customers", json={"id": 9, "mobile": "919999999999"}, headers=other.headers("other-admin")
    )
    assert mine.status_code == 200
    params = status_params("mobile", "919999999999")
    await client.put(
        STATUS, params=params, json={"reason": "r", "label": "Suspended"}, headers=other.headers("other-admin")
    )
    ours = await client.get(
        "/v2/customers/lookup", params=lookup_params("mobile", "919999999999"), headers=tenant.headers("admin")
    )
    assert ours.json()["data"]["status"]["label"] == "Active"
    # An idempotency key of one org does not answer for another.
    key = {"Idempotency-Key": "shared-key"}
    a = await client.put(
        STATUS, params=params, json={"reason": "a", "label": "Blocked"}, headers=tenant.headers("admin", **key)
    )
    b = await client.put(
        STATUS, params=params, json={"reason": "b", "label": "Closed"}, headers=other.headers("other-admin", **key)
    )
    assert a.status_code == b.status_code == 200
    assert a.json()["data"]["status"]["label"] == "Blocked"
    assert b.json()["data"]["status"]["label"] == "Closed"
    unknown = await client.get(
        "/v2/customers/lookup", params=lookup_params("mobile", "918888888888"), headers=other.headers("other-admin")
    )
    assert unknown.status_code == 404


async def test_concurrent_creates_get_distinct_ids(client: httpx.AsyncClient, tenant: Tenant) -> None:
    results = await asyncio.gather(*(create(client, tenant, mobile=f"91700000000{i}") for i in range(8)))
    assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
    assert len({r.json()["data"]["id"] for r in results}) == 8


async def test_concurrent_duplicate_identifier_answers_one_winner(client: httpx.AsyncClient, tenant: Tenant) -> None:
    results = await asyncio.gather(*(create(client, tenant, email="same@demo.test") for _ in range(6)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 5, [r.text for r in results]
    assert all(r.json()["errors"][0]["code"] == 1030 for r in results if r.status_code == 409)


async def test_history_is_oldest_first(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    params = status_params("mobile", "919999999999")
    for label in ("Suspended", "Active", "Blocked"):
        res = await client.put(
            STATUS, params=params, json={"reason": label, "label": label}, headers=tenant.headers("admin")
        )
        assert res.status_code == 200
    seen = await client.get(
        "/v2/customers/lookup", params=lookup_params("mobile", "919999999999"), headers=tenant.headers("admin")
    )
    history = seen.json()["data"]["statusHistory"]
    assert [(h["oldLabel"], h["newLabel"]) for h in history] == [
        ("Active", "Suspended"),
        ("Suspended", "Active"),
        ("Active", "Blocked"),
    ]
    assert seen.json()["data"]["status"]["label"] == "Blocked"


async def test_bad_identifier_value_and_key_are_400_1033(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create(client, tenant, id=9, mobile="919999999999")
    admin = tenant.headers("admin")
    empty = await client.get("/v2/customers/lookup", params=lookup_params("mobile", "  "), headers=admin)
    assert (empty.status_code, empty.json()["errors"][0]["code"]) == (400, 1033)
    long_key = tenant.headers("admin", **{"Idempotency-Key": "k" * 201})
    res = await client.put(
        STATUS, params=status_params("mobile", "919999999999"), json={"reason": "r", "label": "X"}, headers=long_key
    )
    assert (res.status_code, res.json()["errors"][0]["code"]) == (400, 1033)
