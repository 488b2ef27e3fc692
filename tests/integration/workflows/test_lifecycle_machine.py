"""A hypothesis state machine over the request lifecycle (SQLite only; small example counts).

Rules: create (sometimes auto-approved by a points rule), approve, reject, cancel, expire, run due jobs, and
program the next downstream answer (success, 5xx, 4xx, connection error). Invariants after every step:
terminal states stick, no downstream call without an approval, never a second successful effect, and the
state agrees with what the downstream saw.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, update

from foureyes.app import create_app
from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.workflows.executor import executor_for
from foureyes.workflows.models import TERMINAL, ExecutionJob, WorkflowRequest
from foureyes.workflows.worker import expire_pending
from tests.conftest import base_settings
from tests.factories import make_tenant
from tests.integration.workflows.conftest import body_for, decision

BASE = "/api_gateway/v2/request-workflow"
ANSWERS = {
    "ok": (200, {"data": {"ok": True}, "errors": [], "warnings": []}),
    "5xx": (503, {"error": "busy"}),
    "4xx": (400, {"errors": [{"code": 1, "message": "no"}]}),
    "biz": (200, {"success": "false"}),
    "down": (0, httpx.ConnectError("refused")),
}
CHECKERS = ["c1@demo.test", "c2@demo.test", "c3@demo.test"]


class Downstream:
    """Answers from a programmed queue (default success); remembers every call by idempotency key."""

    def __init__(self) -> None:
        self.queue: list[str] = []
        self.calls: dict[str, list[str]] = defaultdict(list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        kind = self.queue.pop(0) if self.queue else "ok"
        self.calls[request.headers["Idempotency-Key"]].append(kind)
        status, body = ANSWERS[kind]
        if isinstance(body, Exception):
            raise body
        return httpx.Response(status, json=body)


class Lifecycle(RuleBasedStateMachine):
    requests = Bundle("requests")
    template: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="wf-machine-"))
        shutil.copy(self.template, self.tmp / "foureyes.db")
        self.ctx = AppContext.build(base_settings(self.tmp, None, executor_max_attempts=3))
        self.down = Downstream()
        self.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(self.down.handler))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.ctx.settings, ctx=self.ctx)), base_url="http://testserver"
        )
        self.approved_ids: set[str] = set()  # enough distinct checkers approved, or auto-approved
        self.required: dict[int, int] = {}  # config revision -> requiredApprovals
        self.needs: dict[str, int] = {}  # request -> approvals it needs
        self.approvers: dict[str, set[str]] = defaultdict(set)
        self.terminal: dict[str, str] = {}
        self.run(self._setup())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _setup(self) -> None:
        self.tenant = await make_tenant(self.ctx)
        await self.tenant.user("maker@demo.test", "CanMakeRequest")
        await self.tenant.user("admin@demo.test", "CanConfigureWorkflows")
        for name in CHECKERS:
            await self.tenant.user(name, "CanCheckRequest")
        await self._configure(1)

    async def _configure(self, required: int) -> None:
        config = {
            "allowedHosts": ["https://crm-nightly-new.cc.capillarytech.com"],
            "autoApproveRules": [{"path": "body.points", "op": "<=", "value": 10}],
            "pendingTtlHours": 1,
            "requiredApprovals": required,
        }
        r = await self.client.put(
            f"{BASE}/config/GOODWILL-POINTS", json=config, headers=self.tenant.headers("admin@demo.test")
        )
        assert r.status_code == 200, r.text
        self.required[r.json()["data"]["revision"]] = required

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.run(executor_for(self.ctx).drain())
        self.run(self.ctx.close())
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- rules ----------------------------------------------------------------------------------------------
    @rule(target=requests, points=st.sampled_from([5, 50, 500]))
    def create(self, points: int) -> str:
        body = body_for("GOODWILL-POINTS")
        body["payload"]["IntouchAPITask-Payload"]["body"]["points"] = points
        r = self.run(
            self.client.post(f"{BASE}/GOODWILL-POINTS", json=body, headers=self.tenant.headers("maker@demo.test"))
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        self.needs[data["requestId"]] = self.required[data["configRevision"]]
        if points <= 10:
            self.approved_ids.add(data["requestId"])
            assert data["state"] != "AdminTask"
        else:
            assert data["state"] == "AdminTask"
        return str(data["requestId"])

    @rule(
        rid=requests,
        checker=st.sampled_from(CHECKERS + ["maker@demo.test"]),
        verdict=st.sampled_from(["approved", "rejected"]),
    )
    def decide(self, rid: str, checker: str, verdict: str) -> None:
        before = self._state(rid)
        r = self.run(
            self.client.put(
                f"{BASE}/GOODWILL-POINTS", json=decision(rid, verdict), headers=self.tenant.headers(checker)
            )
        )
        if checker == "maker@demo.test":
            assert r.status_code in (403, 409), r.text
            return
        if before != "AdminTask":
            assert r.status_code == 409, r.text
            return
        if checker in self.approvers[rid]:  # the same checker twice never counts
            assert r.status_code == 409, r.text
            return
        if r.status_code == 409:  # expired deadline without a sweep
            return
        assert r.status_code == 200, r.text
        if verdict == "approved":
            self.approvers[rid].add(checker)
            if len(self.approvers[rid]) >= self.needs[rid]:
                self.approved_ids.add(rid)
            else:
                assert r.json()["data"]["state"] == "AdminTask"
        else:
            assert r.json()["data"]["state"] == "rejected"

    @rule(rid=requests)
    def cancel(self, rid: str) -> None:
        before = self._state(rid)
        r = self.run(
            self.client.post(f"{BASE}/requests/{rid}/cancel", json={}, headers=self.tenant.headers("maker@demo.test"))
        )
        assert r.status_code == (200 if before == "AdminTask" else 409), r.text

    @rule(rid=requests)
    def expire(self, rid: str) -> None:
        async def go() -> None:
            async with self.ctx.db.write() as s:
                await s.execute(
                    update(WorkflowRequest)
                    .where(WorkflowRequest.id == rid, WorkflowRequest.expires_at.is_not(None))
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
            await expire_pending(self.ctx)

        self.run(go())

    @rule()
    def execute_due(self) -> None:
        async def go() -> None:
            async with self.ctx.db.write() as s:
                await s.execute(
                    update(ExecutionJob)
                    .where(ExecutionJob.status == "ready")
                    .values(next_run_at=utcnow() - timedelta(seconds=1))
                )
            await executor_for(self.ctx).run_due()

        self.run(go())

    @rule(required=st.sampled_from([1, 2]))
    def reconfigure(self, required: int) -> None:
        self.run(self._configure(required))

    @rule(kind=st.sampled_from(sorted(ANSWERS)))
    def program_downstream(self, kind: str) -> None:
        self.down.queue.append(kind)

    # --- invariants -----------------------------------------------------------------------------------------
    def _state(self, rid: str) -> str:
        return self._states()[rid]

    def _states(self) -> dict[str, str]:
        async def go() -> dict[str, str]:
            async with self.ctx.db.read() as s:
                return {r.id: r.state for r in (await s.scalars(select(WorkflowRequest))).all()}

        return dict(self.run(go()))

    @invariant()
    def lifecycle_holds(self) -> None:
        states = self._states()
        for rid, state in states.items():
            if rid in self.terminal:
                assert state == self.terminal[rid], f"terminal {self.terminal[rid]} became {state}"
            elif state in TERMINAL:
                self.terminal[rid] = state
        for key, kinds in self.down.calls.items():
            assert key in self.approved_ids, "downstream called without an approval"
            assert kinds.count("ok") <= 1, "a second effect"
            assert "ok" not in kinds[:-1], "called again after a success"
            assert len(kinds) <= 3, "more attempts than executor_max_attempts"
        for rid, state in states.items():
            kinds = self.down.calls.get(rid, [])
            if state == "approved":
                assert kinds and kinds[-1] == "ok"
            if state in ("rejected", "cancelled", "expired"):
                assert kinds == []
            if state == "failed":
                assert "ok" not in kinds
            if state == "AdminTask":
                assert kinds == []


def test_lifecycle_state_machine(templates: dict[str, str]) -> None:
    if "sqlite" not in templates:
        pytest.skip("the state machine runs on SQLite only")
    Lifecycle.template = templates["sqlite"]
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        ),
    )
