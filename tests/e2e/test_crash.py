"""The executing process is SIGKILLed mid-call, after the downstream applied the effect; a new process takes the
job over once the lease expires, and the request ends `approved` with exactly one effect."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    CUSTOMER,
    EARN_BADGE,
    FAKE_NAME,
    ORG,
    SEED_HOST,
    Deployment,
    FakeServer,
    _deploy,
    basic,
    headers,
)
from tests.integration.workflows.conftest import body_for, decision

WF = "/api_gateway/v2/request-workflow"
LEASE = 3
pytestmark = pytest.mark.slow


@pytest.fixture
def crashable(store_name: str, tmp_path: Path, fresh_fake: FakeServer) -> Iterator[Deployment]:
    """Short leases; approvals answer after at most 1 s while the first attempt carries on."""
    yield from _deploy(store_name, tmp_path, fresh_fake, worker_lease_seconds=LEASE, decision_wait_seconds=1)


async def _wait_state(http: httpx.AsyncClient, rid: str, state: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = await http.get(f"{WF}/requests/{rid}?timeline=true", headers=headers("checker"))
        data = r.json()["data"]
        if data["state"] == state:
            return data
        await asyncio.sleep(0.3)
    raise AssertionError(f"request {rid} still {data.get('state')} after {timeout}s: {json.dumps(data)[:2000]}")


async def _approve_while_hanging(http: httpx.AsyncClient, fake: FakeServer, rtype: str, body: dict[str, Any]) -> str:
    created = await http.post(f"{WF}/{rtype}", json=body, headers=headers("maker"))
    assert created.status_code == 200, created.text
    rid = str(created.json()["data"]["requestId"])
    approved = await http.put(f"{WF}/{rtype}", json=decision(rid), headers=headers("checker"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["state"] == "IntouchAPITask"  # the call is still in flight
    assert await asyncio.to_thread(fake.first_applied.wait, 20), "the downstream never saw the call"
    return rid


async def test_killed_mid_call_fake_downstream_one_effect(crashable: Deployment, fresh_fake: FakeServer) -> None:
    fresh_fake.hang_first = True
    first = crashable.serve("serve-1")
    async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
        rid = await _approve_while_hanging(
            http, fresh_fake, "GOODWILL-POINTS", body_for("GOODWILL-POINTS", host=FAKE_NAME)
        )
    first.kill()  # SIGKILL while the downstream call is open
    assert fresh_fake.effects == {rid: 1}
    crashable.serve("serve-2")
    async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
        data = await _wait_state(http, rid, "approved")
    assert fresh_fake.effects == {rid: 1}  # one effect, though the downstream was called twice
    assert len(fresh_fake.calls) == 2
    assert {c.headers["idempotency-key"] for c in fresh_fake.calls} == {rid}
    assert data["details"]["IntouchAPITask_Output"]["body"]["createdId"] == 1
    attempts = [e for e in data["timeline"] if e["kind"] == "attempt"]
    assert len(attempts) == 1 and attempts[0]["data"]["attempt"] == 2  # the killed attempt never recorded


async def test_killed_mid_earn_one_badge(crashable: Deployment, fresh_fake: FakeServer) -> None:
    """The fake stands between foureyes and its own badges API: it relays the earn (the badge is earned), then
    hangs; the process is killed; the next process's retry is answered 809 with the original, so: one badge."""
    fresh_fake.hang_first = True
    fresh_fake.forward_to = crashable.base_url
    admin = headers("admin")
    first = crashable.serve("serve-1")
    async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
        config = {"allowedHosts": [SEED_HOST], "hostRoutes": {SEED_HOST: fresh_fake.base_url}}
        r = await http.put(f"{WF}/config/EARN-BADGE", json=config, headers=admin)
        assert r.status_code == 200, r.text
        body = body_for("EARN-BADGE", host=SEED_HOST)
        task = body["payload"]["IntouchAPITask-Payload"]
        task["body"].update(customerId=CUSTOMER, badgeMetaId=EARN_BADGE, requestId="crash-earn-1")
        task["headers"]["Authorization"] = basic("till")
        rid = await _approve_while_hanging(http, fresh_fake, "EARN-BADGE", body)
    first.kill()
    crashable.serve("serve-2")
    till = {"Authorization": basic("till"), "X-CAP-API-AUTH-ORG-ID": str(ORG)}
    async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
        data = await _wait_state(http, rid, "approved")
        out = data["details"]["IntouchAPITask_Output"]
        assert out["body"]["data"]["badgeMetaId"] == EARN_BADGE
        assert [e["code"] for e in out["body"]["errors"]] == [809]  # the retry was recognised downstream
        assert len(fresh_fake.calls) == 2
        assert {c.body["requestId"] for c in fresh_fake.calls} == {"crash-earn-1"}
        view = await http.get(f"/api_gateway/v1/badges/customer/{CUSTOMER}", headers=till)
        assert view.status_code == 200, view.text
        badges = {b["badgeMetaId"]: b for b in view.json()["data"]["badges"]}
        assert badges[EARN_BADGE]["earnedCount"] == 1
        detail = await http.get(f"/api_gateway/v1/badges/management/{CUSTOMER}/badge/{EARN_BADGE}", headers=till)
        assert detail.json()["data"]["earnDetails"]["earnCount"] == 1
