"""Two API nodes and two workers on one PostgreSQL: 200 EARN-BADGE requests, workers killed and restarted.

Promise under test: every approved request ends `approved` exactly once, every badge is earned exactly once
(one badge_earns row per requestId), no job is left ready or leased, and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.cluster import procs
from tests.cluster.tenant import CHECKER, CUSTOMERS, MAKER, ORG, TILL, decision, earn_request, tenant_file

pytestmark = [pytest.mark.pg, pytest.mark.slow]
N = 200
PATH = "/api_gateway/v2/request-workflow/EARN-BADGE"


def basic(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


@pytest.fixture
def cluster_db() -> Iterator[str]:
    if not procs.pg_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = procs.fresh_pg_database("foureyes_cluster")
    try:
        yield name
    finally:
        procs.drop_pg_database(name)


def db_rows(dbname: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(procs.PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


async def test_cluster_executes_every_approved_request_exactly_once(cluster_db: str, tmp_path: Path) -> None:
    started = time.monotonic()

    def mark(phase: str) -> None:
        sys.stderr.write(f"cluster: {phase} after {time.monotonic() - started:.1f}s\n")

    port_a = procs.free_port()
    env = procs.base_env(
        tmp_path,
        procs.pg_url(cluster_db),
        decision_wait_seconds=0,  # approvals return at once; the workers do the downstream calls
        worker_lease_seconds=5,  # a SIGKILLed worker's jobs are taken over after 5 s
        worker_poll_seconds=10,  # long on purpose: NOTIFY, not polling, must keep the workers busy
        worker_grace_seconds=10,
        worker_concurrency=4,
        db_pool_size=10,
    )
    assert procs.run_cli(env, "db", "upgrade").returncode == 0
    seeded = procs.run_cli(env, "seed", "-", stdin=json.dumps(tenant_file(f"http://127.0.0.1:{port_a}")))
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    node_a = procs.api("api-a", env, tmp_path, port=port_a)
    node_b = procs.api("api-b", env, tmp_path)
    w1, w2 = procs.worker("worker-1", env, tmp_path), procs.worker("worker-2", env, tmp_path)
    running = [node_a.start(), node_b.start(), w1.start(), w2.start()]
    try:
        node_a.wait_ready()
        node_b.wait_ready()
        nodes = [node_a.base_url, node_b.base_url]
        org = {"X-CAP-API-AUTH-ORG-ID": str(ORG)}
        maker, checker = {**org, "Authorization": basic(MAKER)}, {**org, "Authorization": basic(CHECKER)}
        gate = asyncio.Semaphore(16)

        async with httpx.AsyncClient(timeout=60) as http:

            async def create(i: int) -> str:
                body = earn_request(f"cluster-{i}", CUSTOMERS[i % len(CUSTOMERS)], basic(TILL))
                async with gate:
                    r = await http.post(nodes[i % 2] + PATH, json=body, headers=maker)
                assert r.status_code == 200, r.text
                return str(r.json()["data"]["requestId"])

            mark("ready")
            ids = await asyncio.gather(*(create(i) for i in range(N)))
            mark("created")
            assert len(set(ids)) == N

            approved = 0

            async def approve(i: int, request_id: str) -> None:
                nonlocal approved
                async with gate:
                    r = await http.put(nodes[(i + 1) % 2] + PATH, json=decision(request_id), headers=checker)
                assert r.status_code == 200, r.text
                assert r.json()["data"]["state"] in ("IntouchAPITask", "approved"), r.text
                approved += 1

            async def chaos() -> None:
                """Mid-run: SIGKILL worker 1 (its leases must expire and be taken over), restart worker 2."""
                while approved < N // 3:
                    await asyncio.sleep(0.05)
                w1.kill()
                mark("worker-1 killed")
                while approved < 2 * N // 3:
                    await asyncio.sleep(0.05)
                w3 = procs.worker("worker-3", env, tmp_path).start()
                running.append(w3)
                code = await asyncio.to_thread(w2.terminate, 40)
                assert code == 0, w2.log()
                mark("worker-2 stopped")
                running.append(procs.worker("worker-2b", env, tmp_path).start())

            await asyncio.gather(chaos(), *(approve(i, rid) for i, rid in enumerate(ids)))
            mark("approved")

            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                left = db_rows(cluster_db, "SELECT count(*) FROM workflow_requests WHERE state <> 'approved'")[0][0]
                if left == 0:
                    break
                await asyncio.sleep(0.5)

            mark("executed")
            # Through the API too: both nodes agree that every request is approved.
            for i, rid in enumerate(ids[:20]):
                r = await http.get(f"{nodes[i % 2]}/api_gateway/v2/request-workflow/requests/{rid}", headers=checker)
                assert r.status_code == 200 and r.json()["data"]["state"] == "approved", r.text

        states = dict(db_rows(cluster_db, "SELECT state, count(*) FROM workflow_requests GROUP BY state"))
        assert states == {"approved": N}, (states, w1.log(), w2.log())
        earned = db_rows(
            cluster_db,
            f"SELECT request_id, count(*) FROM badge_earns WHERE org_id = {ORG} GROUP BY request_id",
        )
        assert len(earned) == N and all(count == 1 for _, count in earned), earned
        assert {rid for rid, _ in earned} == {f"cluster-{i}" for i in range(N)}
        jobs = dict(db_rows(cluster_db, "SELECT status, count(*) FROM execution_jobs GROUP BY status"))
        assert jobs == {"done": N}, jobs
        # Each approval was announced once to the audit trail and the chain verifies from the CLI.
        verified = procs.run_cli(env, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        for proc in running:
            proc.kill()
