"""Fixtures for workflow tests: a tenant with makers/checkers and a recording fake downstream."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from foureyes.core.context import AppContext
from tests.factories import CONCEPT, STORE, TILL, ZONE, Tenant, make_tenant

FAKE_HOST = "https://crm-nightly-new.cc.capillarytech.com"


@dataclass
class FakeDownstream:
    """Records calls; answers from a queue of (status, body) or a default 200 success."""

    calls: list[httpx.Request] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.answers:
            status, body = self.answers.pop(0)
        else:
            status, body = 200, {"data": {"ok": True}, "errors": [], "warnings": []}
        if isinstance(body, Exception):
            raise body
        return httpx.Response(status, json=body, headers={"X-CAP-REQUEST-ID": "abc123"})

    def bodies(self) -> list[Any]:
        return [json.loads(c.content) for c in self.calls]


@pytest.fixture
def downstream(ctx: AppContext) -> FakeDownstream:
    fake = FakeDownstream()
    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    return fake


@pytest.fixture
async def tenant(ctx: AppContext) -> Tenant:
    t = await make_tenant(ctx)
    await t.user("maker@demo.test", "CanMakeRequest")
    await t.user("checker@demo.test", "CanCheckRequest")
    await t.user("checker2@demo.test", "CanCheckRequest")
    await t.user("admin@demo.test", "CanConfigureWorkflows", "CanMakeRequest", "CanCheckRequest")
    await t.user("storechecker@demo.test", f"CanCheckRequest@{STORE}9")
    await t.user("nobody@demo.test")
    return t


def entity(till: str = TILL, store: str = STORE) -> dict[str, str]:
    return {"tillId": till, "storeId": store, "zoneId": ZONE, "conceptId": CONCEPT}


def goodwill_body(points: int = 50, host: str = FAKE_HOST) -> dict[str, Any]:
    return {
        "entityInfo": entity(),
        "payload": {
            "IntouchAPITask-Payload": {
                "hostname": host,
                "path": "/internal/goodwill/",
                "method": "POST",
                "pathParams": {},
                "queryParams": {},
                "body": {
                    "referenceId": "ref-1", "reason": "service recovery", "baseType": "POINTS", "programId": 626,
                    "awardingTillId": TILL, "earningEntityType": "CUSTOMER", "earningEntityId": 382477526,
                    "points": points, "source": "API",
                },
                "headers": {"Authorization": "Basic YWIxMjQ6MjVkNTVhZDI4M2FhNDAwYWY0NjRjNzZkNzEzYzA3YWQ=",
                            "content-type": "application/json"},
            }
        },
    }


def decision(request_id: str, verdict: str = "approved", message: str = "ok") -> dict[str, Any]:
    return {"requestId": request_id, "actionName": "AdminTask",
            "payload": {"AdminTask-Payload": {"actionDecision": verdict, "actionMessage": message}}}


async def allow_fake_host(client: httpx.AsyncClient, tenant: Tenant, rtype: str = "GOODWILL-POINTS",
                          **extra: Any) -> dict[str, Any]:
    config = {"allowedHosts": [FAKE_HOST], **extra}
    r = await client.put(f"/api_gateway/v2/request-workflow/config/{rtype}", json=config,
                         headers=tenant.headers("admin@demo.test"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])
