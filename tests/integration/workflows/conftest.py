"""Fixtures for workflow tests: a tenant with makers/checkers and a recording fake downstream."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from foureyes.core.context import AppContext
from foureyes.workflows.models import ExecutionJob
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
                    "referenceId": "ref-1",
                    "reason": "service recovery",
                    "baseType": "POINTS",
                    "programId": 626,
                    "awardingTillId": TILL,
                    "earningEntityType": "CUSTOMER",
                    "earningEntityId": 382477526,
                    "points": points,
                    "source": "API",
                },
                "headers": {
                    "Authorization": "Basic YWIxMjQ6MjVkNTVhZDI4M2FhNDAwYWY0NjRjNzZkNzEzYzA3YWQ=",
                    "content-type": "application/json",
                },
            }
        },
    }


def decision(request_id: str, verdict: str = "approved", message: str = "ok") -> dict[str, Any]:
    return {
        "requestId": request_id,
        "actionName": "AdminTask",
        "payload": {"AdminTask-Payload": {"actionDecision": verdict, "actionMessage": message}},
    }


async def allow_fake_host(
    client: httpx.AsyncClient, tenant: Tenant, rtype: str = "GOODWILL-POINTS", **extra: Any
) -> dict[str, Any]:
    config = {"allowedHosts": [FAKE_HOST], **extra}
    r = await client.put(
        f"/api_gateway/v2/request-workflow/config/{rtype}", json=config, headers=tenant.headers("admin@demo.test")
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


# --- bodies for every type ----------------------------------------------------------------------------------
BASIC = "Basic YWIxMjQ6MjVkNTVhZDI4M2FhNDAwYWY0NjRjNzZkNzEzYzA3YWQ="
# The seed page lives in shared/ beside the checkout (as laid out for developers and CI).
SEED_PATH = str(Path(__file__).resolve().parents[3].parent / "shared" / "seeds" / "000_fec91eb9bea8c47c.txt")
SEED_EARN_BADGE: dict[str, Any] = {
    "entityInfo": {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286", "conceptId": "50678331"},
    "payload": {
        "IntouchAPITask-Payload": {
            "hostname": "https://crm-nightly-new.cc.capillarytech.com",
            "path": "/api_gateway/v1/badges/customer/earn",
            "method": "POST",
            "pathParams": {},
            "body": {
                "triggeredBy": {"ownerType": "Goodwill_Module", "referenceId": "123"},
                "customerId": 382477526,
                "requestId": "0f932928-9878-441c-a78e-c1d32235534q",
                "badgeMetaId": "658c50761c4c2b12732c3ec6",
            },
            "headers": {"Authorization": BASIC, "content-type": "application/json"},
        }
    },
}

TASKS: dict[str, dict[str, Any]] = {
    "EARN-BADGE": SEED_EARN_BADGE["payload"]["IntouchAPITask-Payload"],
    "ISSUE-BADGE": {
        "path": "/api_gateway/v1/badges/badgeMeta/customer/issueBulk",
        "method": "POST",
        "body": {
            "triggeredBy": {"ownerType": "Goodwill_Module", "referenceId": "123"},
            "customers": 113460811,
            "requestId": "issue-req-1",
            "badgeMetaId": "658c50761c4c2b12732c3ec6",
        },
    },
    "CUSTOMER-STATUS-CHANGE": {
        "path": "/v2/customers/lookup/status",
        "method": "PUT",
        "queryParams": {
            "source": "INSTORE",
            "accountId": "",
            "use_async": "false",
            "identifierName": "mobile",
            "identifierValue": "919999999999",
        },
        "body": {"reason": "fraud suspected", "label": "Suspended"},
    },
    "POINTS-REDEMPTION": {
        "path": "/v1.1/points/redeem",
        "method": "POST",
        "queryParams": {"skip_validation": "true", "format": "json"},
        "body": {
            "root": {
                "redeem": {
                    "points_redeemed": "100",
                    "customer": {"mobile": "919999999999"},
                    "transaction_number": "t-1",
                }
            }
        },
    },
    "GOODWILL-POINTS": goodwill_body()["payload"]["IntouchAPITask-Payload"],
    "RETRO-TRANSACTION": {
        "path": "/v2/transactions/retro",
        "method": "PUT",
        "body": {
            "oldType": "NOT_INTERESTED",
            "newType": "REGULAR",
            "transactionId": 9001,
            "customerId": 382477526,
            "extendedFields": {},
            "customFields": {},
            "notes": "claim",
        },
    },
}
ALL_TYPES = list(TASKS)


def body_for(
    rtype: str, host: str = FAKE_HOST, *, entity_info: dict[str, str] | None = None, **task_overrides: Any
) -> dict[str, Any]:
    """A valid create body for `rtype` aimed at `host`; overrides replace IntouchAPITask-Payload keys."""
    task: dict[str, Any] = {
        "hostname": host,
        "pathParams": {},
        "queryParams": {},
        "headers": {"Authorization": BASIC, "content-type": "application/json"},
    }
    task.update(json.loads(json.dumps(TASKS[rtype])))
    task["hostname"] = host
    task.update(task_overrides)
    return {"entityInfo": entity_info or entity(), "payload": {"IntouchAPITask-Payload": task}}


async def configure(client: httpx.AsyncClient, tenant: Tenant, rtype: str, **config: Any) -> dict[str, Any]:
    """PUT a config for `rtype` (allowedHosts defaults to the fake host) as the admin."""
    config.setdefault("allowedHosts", [FAKE_HOST])
    r = await client.put(
        f"/api_gateway/v2/request-workflow/config/{rtype}", json=config, headers=tenant.headers("admin@demo.test")
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def seed_earn_badge_body() -> dict[str, Any]:
    """The seed page's EARN-BADGE example as written (parsed from the page when it is present)."""
    import re
    from pathlib import Path

    page = Path(SEED_PATH)
    if page.exists():
        found = re.search(r"```json Earn badge\n(.*?)```", page.read_text(), re.S)
        if found:
            parsed: dict[str, Any] = json.loads(found.group(1))
            return parsed
    return json.loads(json.dumps(SEED_EARN_BADGE))


async def count_rows(ctx: AppContext, table: str) -> int:
    from sqlalchemy import text

    async with ctx.db.read() as s:
        return int((await s.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


async def execution_job(ctx: AppContext, rid: str) -> ExecutionJob:
    """The request's execution job, read in a fresh transaction (it must exist)."""
    async with ctx.db.read() as s:
        job = await s.scalar(select(ExecutionJob).where(ExecutionJob.request_id == rid))
    assert job is not None
    return job
