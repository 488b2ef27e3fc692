"""GET one and GET list: every documented filter, empty parameters, sorting, paging and visibility."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from foureyes.core.context import AppContext
from foureyes.core.ids import uuid7
from foureyes.workflows.counts import recount
from foureyes.workflows.models import WorkflowRequest
from foureyes.workflows.repository import WorkflowRepository
from tests.factories import CONCEPT, STORE, TILL, ZONE, Tenant, make_tenant
from tests.integration.workflows.conftest import FakeDownstream, body_for, configure, decision, entity

BASE = "/api_gateway/v2/request-workflow"


async def _set_start(ctx: AppContext, rid: str, when: datetime) -> None:
    async with ctx.db.write() as s:
        row = await s.scalar(
            update(WorkflowRequest).where(WorkflowRequest.id == rid).values(start_time=when).returning(WorkflowRequest)
        )
        assert row is not None
        # The app never moves a start_time; this test does, so it recounts the per-day counters the list seeks by.
        await recount(s, row.org_id)


async def _create(
    client: httpx.AsyncClient, tenant: Tenant, rtype: str, maker: str, info: dict[str, str] | None = None
) -> str:
    r = await client.post(f"{BASE}/{rtype}", json=body_for(rtype, entity_info=info), headers=tenant.headers(maker))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["requestId"])


@pytest.fixture
async def population(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> dict[str, Any]:
    """Five requests with known makers, types, units, days and states."""
    for rtype in ("GOODWILL-POINTS", "EARN-BADGE", "CUSTOMER-STATUS-CHANGE"):
        await configure(client, tenant, rtype)
    store2 = entity(till=f"{TILL}9", store=f"{STORE}9")
    ids = {
        "a": await _create(client, tenant, "GOODWILL-POINTS", "maker@demo.test"),
        "b": await _create(client, tenant, "EARN-BADGE", "maker@demo.test"),
        "c": await _create(client, tenant, "GOODWILL-POINTS", "admin@demo.test", store2),
        "d": await _create(client, tenant, "CUSTOMER-STATUS-CHANGE", "admin@demo.test"),
        "e": await _create(client, tenant, "EARN-BADGE", "admin@demo.test", store2),
    }
    days = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    for key, day in days.items():
        await _set_start(ctx, ids[key], datetime(2023, 10, day, 12, 0, 0))
    checker = tenant.headers("checker@demo.test")
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(ids["a"]), headers=checker)
    assert r.json()["data"]["state"] == "approved"
    r = await client.put(f"{BASE}/CUSTOMER-STATUS-CHANGE", json=decision(ids["d"], "rejected"), headers=checker)
    assert r.json()["data"]["state"] == "rejected"
    return ids


async def _ids(client: httpx.AsyncClient, tenant: Tenant, query: str, user: str = "admin@demo.test") -> list[str]:
    r = await client.get(f"{BASE}/requests?{query}", headers=tenant.headers(user))
    assert r.status_code == 200, r.text
    return [item["requestId"] for item in r.json()["data"]]


def _keys(ids: dict[str, str], found: list[str]) -> list[str]:
    reverse = {v: k for k, v in ids.items()}
    return [reverse[f] for f in found]


async def test_every_filter(client: httpx.AsyncClient, tenant: Tenant, population: dict[str, str]) -> None:
    ids = population
    maker_id = tenant.users["maker@demo.test"]
    admin_id = tenant.users["admin@demo.test"]
    cases = {
        "": ["e", "d", "c", "b", "a"],
        f"userId={maker_id}": ["b", "a"],
        f"userId={admin_id}": ["e", "d", "c"],
        "states=AdminTask": ["e", "c", "b"],
        "states=approved,rejected": ["d", "a"],
        "states=AdminTask,failed,approved": ["e", "c", "b", "a"],
        "requestType=EARN-BADGE": ["e", "b"],
        "requestType=earn-badge": ["e", "b"],
        f"storeId={STORE}9": ["e", "c"],
        f"tillId={TILL}": ["d", "b", "a"],
        f"zoneId={ZONE}": ["e", "d", "c", "b", "a"],
        f"conceptId={CONCEPT}": ["e", "d", "c", "b", "a"],
        "conceptId=nope": [],
        "startDate=2023-10-02": ["e", "d", "c", "b"],
        "endDate=2023-10-02": ["b", "a"],
        "startDate=2023-10-02&endDate=2023-10-04": ["d", "c", "b"],
        f"storeId={STORE}9&requestType=GOODWILL-POINTS": ["c"],
    }
    for query, expected in cases.items():
        assert _keys(ids, await _ids(client, tenant, query)) == expected, query


async def test_documented_example_url_with_empty_parameters(
    client: httpx.AsyncClient, tenant: Tenant, population: dict[str, str]
) -> None:
    admin = tenant.users["admin@demo.test"]
    query = (
        f"userId={admin}&sortBy=startDate&sortOrder=asc&conceptId=&zoneId=&storeId=&startDate=2023-10-03"
        "&endDate=&states=AdminTask,failed,approved&limit=5&PageNo=&requestType=EARN-BADGE"
    )
    r = await client.get(f"{BASE}/requests?{query}", headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 200, r.text
    assert _keys(population, [i["requestId"] for i in r.json()["data"]]) == ["e"]
    assert r.json()["pagination"] == {"totalElements": 1, "totalPages": 1, "numberOfElements": 1, "number": 0}


async def test_sorting(client: httpx.AsyncClient, tenant: Tenant, population: dict[str, str]) -> None:
    ids = population
    assert _keys(ids, await _ids(client, tenant, "sortOrder=asc")) == ["a", "b", "c", "d", "e"]
    assert _keys(ids, await _ids(client, tenant, "sortBy=startDate&sortOrder=desc")) == ["e", "d", "c", "b", "a"]
    ended = _keys(ids, await _ids(client, tenant, "sortBy=endDate&sortOrder=desc&states=approved,rejected"))
    assert ended == ["d", "a"]  # d was decided after a
    for query, code in (("sortBy=name", 2011), ("sortOrder=up", 2012), ("sortBy=startdate", 2011)):
        r = await client.get(f"{BASE}/requests?{query}", headers=tenant.headers("admin@demo.test"))
        assert r.status_code == 400, query
        assert r.json()["errors"][0]["code"] == code


@pytest.mark.parametrize(
    "query",
    [
        "states=nope",
        "PageNo=-1",
        "PageNo=x",
        "limit=0",
        "limit=x",
        "startDate=2023-13-45",
        "requestType=NOPE",
        "userId=abc",
    ],
)
async def test_bad_parameters_are_400(client: httpx.AsyncClient, tenant: Tenant, query: str) -> None:
    r = await client.get(f"{BASE}/requests?{query}", headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 400, r.text
    assert r.json()["data"] is None


async def _clone(ctx: AppContext, rid: str, copies: int) -> None:
    async with ctx.db.write() as s:
        row = await s.scalar(select(WorkflowRequest).where(WorkflowRequest.id == rid))
        assert row is not None
        columns = {c.key: getattr(row, c.key) for c in WorkflowRequest.__table__.columns}
        for _ in range(copies):  # through the repository, so the per-state counts (counts.py) stay exact
            await WorkflowRepository(s).add_request(WorkflowRequest(**{**columns, "id": uuid7()}))


async def test_paging_is_zero_based_limit_defaults_to_10_max_100(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, population: dict[str, str]
) -> None:
    await _clone(ctx, population["b"], 120)  # 125 requests in all
    admin = tenant.headers("admin@demo.test")
    r = await client.get(f"{BASE}/requests", headers=admin)
    assert len(r.json()["data"]) == 10
    assert r.json()["pagination"] == {"totalElements": 125, "totalPages": 13, "numberOfElements": 10, "number": 0}
    r = await client.get(f"{BASE}/requests?limit=1000", headers=admin)
    assert len(r.json()["data"]) == 100
    assert r.json()["pagination"]["totalPages"] == 2
    seen: list[str] = []
    for page in range(3):
        r = await client.get(f"{BASE}/requests?limit=50&PageNo={page}&sortOrder=asc", headers=admin)
        assert r.json()["pagination"]["number"] == page
        seen.extend(i["requestId"] for i in r.json()["data"])
    assert len(seen) == 125 and len(set(seen)) == 125
    assert seen[0] == population["a"]
    r = await client.get(f"{BASE}/requests?limit=50&PageNo=3", headers=admin)
    assert r.json()["data"] == []
    assert r.json()["pagination"]["numberOfElements"] == 0


async def test_visibility(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, population: dict[str, str]
) -> None:
    ids = population
    # A checker scoped to store 2 sees only store 2's requests, in the list and one by one.
    assert sorted(_keys(ids, await _ids(client, tenant, "", "storechecker@demo.test"))) == ["c", "e"]
    store = tenant.headers("storechecker@demo.test")
    assert (await client.get(f"{BASE}/requests/{ids['c']}", headers=store)).status_code == 200
    hidden = await client.get(f"{BASE}/requests/{ids['a']}", headers=store)
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["code"] == 2007
    # The filter cannot widen what is visible.
    assert _keys(ids, await _ids(client, tenant, f"storeId={STORE}", "storechecker@demo.test")) == []
    # A caller without any workflow permission reads nothing.
    r = await client.get(f"{BASE}/requests", headers=tenant.headers("nobody@demo.test"))
    assert r.status_code == 403
    r = await client.get(f"{BASE}/requests/{ids['a']}", headers=tenant.headers("nobody@demo.test"))
    assert r.status_code == 403
    # Another org sees none of it and gets 404 for an id.
    other = await make_tenant(ctx, org_id=200, name="Other")
    await other.user("a200@demo.test", "CanConfigureWorkflows", "CanCheckRequest")
    r = await client.get(f"{BASE}/requests", headers=other.headers("a200@demo.test"))
    assert r.json()["data"] == [] and r.json()["pagination"]["totalElements"] == 0
    r = await client.get(f"{BASE}/requests/{ids['a']}", headers=other.headers("a200@demo.test"))
    assert r.status_code == 404 and ids["a"] not in r.text


async def test_get_one_shows_resource_and_timeline(
    client: httpx.AsyncClient, tenant: Tenant, population: dict[str, str]
) -> None:
    r = await client.get(f"{BASE}/requests/{population['a']}?timeline=true", headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["state"] == "approved" and data["requestType"] == "goodwill-points"
    kinds = [e["kind"] for e in data["timeline"]]
    assert kinds == ["created", "decision", "attempt", "approved"]
    plain = await client.get(f"{BASE}/requests/{population['a']}", headers=tenant.headers("admin@demo.test"))
    assert "timeline" not in plain.json()["data"]
