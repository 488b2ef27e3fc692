"""Decide: reject, approve, who may decide, unknown ids, and exactly one winner under concurrency."""

from __future__ import annotations

import asyncio
import re

import httpx

from foureyes.core.context import AppContext
from tests.factories import Tenant
from tests.integration.workflows.conftest import FakeDownstream, body_for, configure, decision

BASE = "/api_gateway/v2/request-workflow"
WIRE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


async def _create(
    client: httpx.AsyncClient,
    tenant: Tenant,
    rtype: str = "GOODWILL-POINTS",
    maker: str = "maker@demo.test",
    **config: object,
) -> str:
    await configure(client, tenant, rtype, **config)
    r = await client.post(f"{BASE}/{rtype}", json=body_for(rtype), headers=tenant.headers(maker))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["requestId"])


async def test_reject_is_terminal_and_calls_nothing(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    rid = await _create(client, tenant)
    r = await client.put(
        f"{BASE}/GOODWILL-POINTS",
        json=decision(rid, "rejected", "not today"),
        headers=tenant.headers("checker@demo.test"),
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["state"] == "rejected"
    assert data["details"]["AdminTask_Output"] == "rejected"
    assert data["details"]["AdminTask-Payload"] == {"actionDecision": "rejected", "actionMessage": "not today"}
    assert data["details"]["ValidateCheckerAccess_Output"] is True
    assert "IntouchAPITask_Output" not in data["details"]
    assert WIRE_TIME.match(data["endTime"])
    assert downstream.calls == []
    again = await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("checker2@demo.test")
    )
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == 2002
    assert downstream.calls == []


async def test_approve_answers_executed_state_with_output(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    downstream.answers.append((201, {"createdId": 38, "warnings": []}))
    rid = await _create(client, tenant)
    r = await client.put(
        f"{BASE}/GOODWILL-POINTS", json=decision(rid, "approved", "fine"), headers=tenant.headers("checker@demo.test")
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["state"] == "approved"
    assert WIRE_TIME.match(data["endTime"])
    details = data["details"]
    assert details["AdminTask_Output"] == "approved"
    assert details["ValidateCheckerAccess_Output"] is True
    out = details["IntouchAPITask_Output"]
    assert out["status"] == 201
    assert out["body"] == {"createdId": 38, "warnings": []}
    assert out["headers"]["X-CAP-REQUEST-ID"] == ["abc123"]
    assert len(downstream.calls) == 1
    call = downstream.calls[0]
    assert call.method == "POST"
    assert call.url.path == "/internal/goodwill/"
    assert downstream.bodies()[0]["points"] == 50


async def test_maker_cannot_approve_own_unless_configured(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    rid = await _create(client, tenant, maker="admin@demo.test")
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == 2001
    assert downstream.calls == []
    rid2 = await _create(client, tenant, maker="admin@demo.test", makerCanCheck=True)
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid2), headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["state"] == "approved"
    # The first request still follows the revision it was created under.
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 403


async def test_checker_permission_and_scope(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    rid = await _create(client, tenant)
    for user in ("storechecker@demo.test", "maker@demo.test", "nobody@demo.test"):
        r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers(user))
        assert r.status_code == 403, (user, r.text)
        assert r.json()["errors"][0]["code"] == 2001
    assert downstream.calls == []


async def test_unknown_id_wrong_type_and_wrong_action(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext
) -> None:
    rid = await _create(client, tenant)
    checker = tenant.headers("checker@demo.test")
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision("0190-nope"), headers=checker)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 2007
    r = await client.put(f"{BASE}/EARN-BADGE", json=decision(rid), headers=checker)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 2007
    body = decision(rid)
    body["actionName"] = "IntouchAPITask"
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=body, headers=checker)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 2007
    bad = decision(rid, "maybe")
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=bad, headers=checker)
    assert r.status_code == 400
    r = await client.put(f"{BASE}/NOPE", json=decision(rid), headers=checker)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 2009
    got = await client.get(f"{BASE}/requests/{rid}", headers=checker)
    assert got.json()["data"]["state"] == "AdminTask"


async def test_another_orgs_request_is_404(client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext) -> None:
    from tests.factories import make_tenant

    rid = await _create(client, tenant)
    other = await make_tenant(ctx, org_id=200, name="Other")
    await other.user("c200@demo.test", "CanCheckRequest", "CanConfigureWorkflows")
    r = await client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=other.headers("c200@demo.test"))
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 2007
    r = await client.get(f"{BASE}/requests/{rid}", headers=other.headers("c200@demo.test"))
    assert r.status_code == 404
    assert rid not in r.text


async def test_exactly_one_of_parallel_decisions_wins(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    checkers = [f"par{i}@demo.test" for i in range(8)]
    for name in checkers:
        await tenant.user(name, "CanCheckRequest")
    rid = await _create(client, tenant)
    verdicts = ["approved" if i % 2 == 0 else "rejected" for i in range(8)]
    answers = await asyncio.gather(
        *(
            client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid, v), headers=tenant.headers(name))
            for name, v in zip(checkers, verdicts, strict=True)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 7, [a.text for a in answers]
    assert all(a.json()["errors"][0]["code"] == 2002 for a in answers if a.status_code == 409)
    winner = next(a for a in answers if a.status_code == 200).json()["data"]
    assert len(downstream.calls) == (1 if winner["state"] == "approved" else 0)
    assert len(winner.get("approvals", [])) == 1


async def test_parallel_approvals_execute_once(
    client: httpx.AsyncClient, tenant: Tenant, downstream: FakeDownstream
) -> None:
    checkers = [f"app{i}@demo.test" for i in range(8)]
    for name in checkers:
        await tenant.user(name, "CanCheckRequest")
    rid = await _create(client, tenant)
    answers = await asyncio.gather(
        *(client.put(f"{BASE}/GOODWILL-POINTS", json=decision(rid), headers=tenant.headers(n)) for n in checkers)
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    assert len(downstream.calls) == 1
