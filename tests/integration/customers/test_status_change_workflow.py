"""End to end: an approved CUSTOMER-STATUS-CHANGE request executes against this server's customers API once."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from foureyes.core.context import AppContext
from foureyes.customers.models import CustomerIdempotencyKey, CustomerStatusChange
from tests.factories import CONCEPT, STORE, TILL, ZONE, basic, make_tenant

WORKFLOW = "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE"


async def test_approved_request_suspends_the_customer_exactly_once(
    client: httpx.AsyncClient, app: FastAPI, ctx: AppContext
) -> None:
    tenant = await make_tenant(ctx, 100)
    await tenant.user("maker@demo.test", "CanMakeRequest")
    await tenant.user("checker@demo.test", "CanCheckRequest")
    await tenant.user("till1", "CustomersWrite", kind="till")
    # The executor's downstream client reaches this same app in-process (the default allowed host).
    ctx.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    made = await client.post("/v2/customers", json={"id": 9, "mobile": "919999999999"}, headers=tenant.headers("till1"))
    assert made.status_code == 200, made.text
    till_auth = basic("till1")["Authorization"]
    task = {
        "hostname": "http://testserver",
        "path": "/v2/customers/lookup/status",
        "method": "PUT",
        "pathParams": {},
        "queryParams": {
            "source": "INSTORE",
            "accountId": "",
            "use_async": "false",
            "identifierName": "mobile",
            "identifierValue": "919999999999",
        },
        "body": {"reason": "fraud suspected", "label": "Suspended"},
        "headers": {"Authorization": till_auth, "content-type": "application/json"},
    }
    entity = {"tillId": TILL, "storeId": STORE, "zoneId": ZONE, "conceptId": CONCEPT}
    created = await client.post(
        WORKFLOW,
        json={"entityInfo": entity, "payload": {"IntouchAPITask-Payload": task}},
        headers=tenant.headers("maker@demo.test"),
    )
    assert created.status_code == 200, created.text
    request_id = created.json()["data"]["requestId"]
    decided = await client.put(
        WORKFLOW,
        json={
            "requestId": request_id,
            "actionName": "AdminTask",
            "payload": {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "ok"}},
        },
        headers=tenant.headers("checker@demo.test"),
    )
    assert decided.status_code == 200, decided.text
    data = decided.json()["data"]
    assert data["state"] == "approved", data
    output = data["details"]["IntouchAPITask_Output"]
    assert output["status"] == 200
    assert output["body"]["data"]["status"]["label"] == "Suspended"
    # A retry of the same execution (same Idempotency-Key) answers the first result and applies nothing.
    replay = await client.put(
        "/v2/customers/lookup/status",
        params=task["queryParams"],
        json=task["body"],
        headers={**tenant.headers("till1"), "Idempotency-Key": request_id},
    )
    assert replay.status_code == 200
    # The stored answer, not a fresh no-op (which would carry the 1034 "already Suspended" warning).
    assert replay.json()["warnings"] == []
    assert replay.json()["data"] == output["body"]["data"]
    async with ctx.db.read() as s:
        rows = await s.scalar(select(func.count()).select_from(CustomerStatusChange))
        keys = list(await s.scalars(select(CustomerIdempotencyKey.key)))
    assert rows == 1
    assert keys == [request_id]  # the executor sent the workflow requestId as Idempotency-Key
