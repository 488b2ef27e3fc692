"""The seed flow over real HTTP: a `foureyes serve` on 127.0.0.1 executing against its own badges and customers
APIs (the seed's hostname allow-listed and routed to the server), and the other three types against a fake
downstream server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    CUSTOMER,
    CUSTOMER_MOBILE,
    EARN_BADGE,
    FAKE_NAME,
    ISSUE_BADGE,
    ORG,
    SEED_HOST,
    Deployment,
    FakeServer,
    basic,
    headers,
)
from tests.integration.workflows.conftest import TASKS, body_for, decision, seed_earn_badge_body

WF = "/api_gateway/v2/request-workflow"
pytestmark = pytest.mark.slow


async def _create_and_approve(
    http: httpx.AsyncClient, rtype: str, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    created = await http.post(f"{WF}/{rtype}", json=body, headers=headers("maker"))
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert data["state"] == "AdminTask"
    assert data["details"]["IntouchAPITask-Payload"]["headers"]["Authorization"] == "Basic ****"
    approved = await http.put(
        f"{WF}/{rtype}", json=decision(data["requestId"], "approved", "go"), headers=headers("checker")
    )
    assert approved.status_code == 200, approved.text
    return data, approved.json()["data"]


async def _final(http: httpx.AsyncClient, rid: str) -> dict[str, Any]:
    r = await http.get(f"{WF}/requests/{rid}", headers=headers("checker"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


async def test_seed_earn_badge_flow(server: Deployment) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        till = {"Authorization": basic("till"), "X-CAP-API-AUTH-ORG-ID": str(ORG)}
        before = await http.get(f"/api_gateway/v1/badges/customer/{CUSTOMER}", headers=till)
        assert before.status_code == 200, before.text
        assert all(b["earnedCount"] == 0 for b in before.json()["data"]["badges"])

        seed = seed_earn_badge_body()
        assert seed["payload"]["IntouchAPITask-Payload"]["hostname"] == SEED_HOST
        created, approved = await _create_and_approve(http, "EARN-BADGE", seed)
        assert created["requestType"] == "earn-badge"
        assert created["details"]["ValidatePayload_Output"] is True
        assert approved["state"] == "approved", approved["details"]
        output = approved["details"]["IntouchAPITask_Output"]
        assert output["status"] == 200
        assert output["body"]["errors"] == []
        earned = output["body"]["data"]
        assert earned["badgeMetaId"] == EARN_BADGE and earned["customerId"] == CUSTOMER
        assert earned["earnedBadgeId"]

        # The customer holds the badge, once.
        after = await http.get(f"/api_gateway/v1/badges/customer/{CUSTOMER}", headers=till)
        badges = {b["badgeMetaId"]: b for b in after.json()["data"]["badges"]}
        assert badges[EARN_BADGE]["earnedCount"] == 1
        final = await _final(http, created["requestId"])
        assert final["state"] == "approved"
        assert final["details"]["IntouchAPITask_Output"] == output
        assert final["endTime"] is not None

        # The same seed body again is refused by the dry run (the badges service remembers its requestId).
        again = await http.post(f"{WF}/EARN-BADGE", json=seed, headers=headers("maker"))
        assert again.status_code == 400, again.text
        error = again.json()["errors"][0]
        assert error["code"] == 2008 and "809" in error["message"]
        assert error["reference"] == "payload.IntouchAPITask-Payload.body.requestId"


async def test_issue_badge_flow(server: Deployment) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        body = body_for("ISSUE-BADGE", host=SEED_HOST)
        task = body["payload"]["IntouchAPITask-Payload"]
        task["body"].update(customers=CUSTOMER, badgeMetaId=ISSUE_BADGE, requestId="e2e-issue-1")
        task["headers"]["Authorization"] = basic("till")
        created, approved = await _create_and_approve(http, "ISSUE-BADGE", body)
        assert approved["state"] == "approved", approved["details"]
        out = approved["details"]["IntouchAPITask_Output"]
        assert out["status"] == 200
        issued = out["body"]["data"]["issuedBadges"]
        assert [i["customerId"] for i in issued] == [CUSTOMER]
        till = {"Authorization": basic("till"), "X-CAP-API-AUTH-ORG-ID": str(ORG)}
        detail = await http.get(f"/api_gateway/v1/badges/management/{CUSTOMER}/badge/{ISSUE_BADGE}", headers=till)
        assert detail.status_code == 200, detail.text
        assert detail.json()["data"]["issualDetails"]["issuedCount"] == 1
        assert (await _final(http, created["requestId"]))["state"] == "approved"


async def test_customer_status_change_flow(server: Deployment) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        body = body_for("CUSTOMER-STATUS-CHANGE", host=SEED_HOST)
        body["payload"]["IntouchAPITask-Payload"]["queryParams"]["identifierValue"] = CUSTOMER_MOBILE
        body["payload"]["IntouchAPITask-Payload"]["headers"]["Authorization"] = basic("till")
        created, approved = await _create_and_approve(http, "CUSTOMER-STATUS-CHANGE", body)
        assert approved["state"] == "approved", approved["details"]
        assert approved["details"]["IntouchAPITask_Output"]["status"] == 200
        lookup = await http.get(
            "/v2/customers/lookup",
            params={"identifierName": "mobile", "identifierValue": CUSTOMER_MOBILE},
            headers={"Authorization": basic("till"), "X-CAP-API-AUTH-ORG-ID": str(ORG)},
        )
        assert lookup.status_code == 200, lookup.text
        assert lookup.json()["data"]["status"]["label"] == "Suspended"
        assert (await _final(http, created["requestId"]))["state"] == "approved"


@pytest.mark.parametrize("rtype", ["POINTS-REDEMPTION", "GOODWILL-POINTS", "RETRO-TRANSACTION"])
async def test_fake_downstream_types(server: Deployment, fake_downstream: FakeServer, rtype: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        body = body_for(rtype, host=FAKE_NAME)
        created, approved = await _create_and_approve(http, rtype, body)
        rid = created["requestId"]
        assert approved["state"] == "approved", approved["details"]
        out = approved["details"]["IntouchAPITask_Output"]
        assert out["status"] == 201
        assert out["body"]["createdId"] == 1
        assert out["headers"]["X-CAP-REQUEST-ID"] == ["fake-1"]
        assert len(fake_downstream.calls) == 1
        call = fake_downstream.calls[0]
        assert call.method == TASKS[rtype]["method"]
        assert call.path == TASKS[rtype]["path"]
        assert call.query == {k: str(v) for k, v in TASKS[rtype].get("queryParams", {}).items()}
        assert call.body == TASKS[rtype]["body"]
        assert call.headers["idempotency-key"] == rid
        assert call.headers["authorization"] == body["payload"]["IntouchAPITask-Payload"]["headers"]["Authorization"]
        assert call.headers["x-cap-api-auth-org-id"] == str(ORG)
        assert fake_downstream.effects == {rid: 1}
        assert (await _final(http, rid))["state"] == "approved"


async def test_unlisted_host_is_never_called(server: Deployment, fake_downstream: FakeServer) -> None:
    """The fake server's real address is not allow-listed: naming it directly is refused at create."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        for host in (fake_downstream.base_url, f"http://localhost:{fake_downstream.port}"):
            r = await http.post(
                f"{WF}/GOODWILL-POINTS", json=body_for("GOODWILL-POINTS", host=host), headers=headers("maker")
            )
            assert r.status_code == 400, r.text
            assert r.json()["errors"][0]["reference"] == "payload.IntouchAPITask-Payload.hostname"
    assert fake_downstream.calls == []


async def test_redirects_are_never_followed(server: Deployment, fake_downstream: FakeServer) -> None:
    """A downstream answering 307 to another address fails the request; nothing follows the redirect."""
    fake_downstream.redirect_to = f"{fake_downstream.base_url}/landed"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        created, approved = await _create_and_approve(
            http, "GOODWILL-POINTS", body_for("GOODWILL-POINTS", host=FAKE_NAME)
        )
        assert approved["state"] == "failed", approved
        assert approved["details"]["IntouchAPITask_Output"]["status"] == 307
        assert "307" in approved["failureReason"]
    assert [c.path for c in fake_downstream.calls] == ["/internal/goodwill/"]
    assert fake_downstream.effects == {}
