"""The workflow's statements are built once and reused (issue #7): a second call of the same shape sends the very
statement objects the first one sent, so SQLAlchemy neither rebuilds them nor recomputes their cache keys.

Only statements on the workflow's own tables are checked: audit, webhooks and identity have their own owners.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from foureyes.core.context import AppContext
from tests.factories import Tenant
from tests.integration.workflows.conftest import FakeDownstream, body_for, configure, decision
from tests.perf.counting import listening

BASE = "/api_gateway/v2/request-workflow"
RTYPE = "GOODWILL-POINTS"
TABLES = (
    "workflow_requests",
    "workflow_request_buckets",
    "workflow_request_events",
    "workflow_config_revisions",
    "execution_jobs",
)


@contextmanager
def executed(ctx: AppContext) -> Iterator[list[Any]]:
    """The statement objects sent on the workflow's tables while the block ran, in order."""
    seen: list[Any] = []

    def _record(conn: Any, statement: Any, *_args: Any) -> None:
        if hasattr(statement, "compile"):
            sql = str(statement.compile(dialect=conn.dialect))
            if any(f" {t}" in sql or f"{t} " in sql for t in TABLES):
                seen.append(statement)

    with listening(ctx, "before_execute", _record):
        yield seen


def reused(first: list[Any], second: list[Any]) -> None:
    assert second, "no workflow statement seen"
    assert len(second) == len(first)
    rebuilt = [str(s)[:120] for s in second if all(s is not f for f in first)]
    assert rebuilt == [], "built again on the second call"


async def _create(client: httpx.AsyncClient, tenant: Tenant) -> str:
    r = await client.post(f"{BASE}/{RTYPE}", json=body_for(RTYPE), headers=tenant.headers("maker@demo.test"))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["requestId"])


async def test_create_decide_get_and_list_reuse_their_statements(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, downstream: FakeDownstream
) -> None:
    await configure(client, tenant, RTYPE)
    await _create(client, tenant)  # warm-up: the org's audit head and first counters
    runs: dict[str, list[list[Any]]] = {}
    checker, admin = tenant.headers("checker@demo.test"), tenant.headers("admin@demo.test")
    for i in range(2):
        with executed(ctx) as seen:
            rid = await _create(client, tenant)
        runs.setdefault("create", []).append(seen)
        with executed(ctx) as seen:
            r = await client.put(f"{BASE}/{RTYPE}", json=decision(rid), headers=checker)
        assert r.status_code == 200 and r.json()["data"]["state"] == "approved", r.text
        runs.setdefault("approve", []).append(seen)
        with executed(ctx) as seen:
            assert (await client.get(f"{BASE}/requests/{rid}?timeline=true", headers=admin)).status_code == 200
        runs.setdefault("get", []).append(seen)
        lists = [
            {"limit": str(5 + i)},  # the whole org: the counters' seek
            {"states": "AdminTask,approved" if i else "approved", "limit": str(5 + i)},  # the inbox shape
            {"userId": str(1 + i), "sortBy": "endDate"},  # a filter the counters cannot answer: COUNT(*)
        ]
        for n, params in enumerate(lists):
            with executed(ctx) as seen:
                assert (await client.get(f"{BASE}/requests", params=params, headers=admin)).status_code == 200
            runs.setdefault(f"list {n}", []).append(seen)
    for name, (first, second) in runs.items():
        try:
            reused(first, second)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
