"""`serve`, `worker`, `db upgrade` and `audit verify` (contract §8), run as real commands."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import select, update

from foureyes.audit.models import AuditEvent
from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from foureyes.identity.models import Org
from foureyes.tenants.apply import apply_tenant_file
from tests.conftest import base_settings
from tests.integration.tenants.helpers import small
from tests.integration.tenants.proc import FOUREYES, command_env, free_port, run, serving, stop, wait_until


async def test_serve_becomes_ready_creates_no_tenant_and_stops_on_sigterm(
    settings: Settings, ctx: AppContext, tmp_path: Path
) -> None:
    port = free_port()
    env = command_env(settings)
    with serving(env, port, log=tmp_path / "serve.log") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/openapi.json").status_code == 200
    async with ctx.db.read() as s:
        assert list(await s.scalars(select(Org))) == []
    # `serving` checks that SIGTERM ended the server with status 0.
    with serving(env, free_port(), "--no-worker", log=tmp_path / "serve2.log") as base:
        assert httpx.get(f"{base}/readyz").status_code == 200


def test_worker_runs_until_sigterm_and_exits_cleanly(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        env = command_env(settings, FOUREYES_LOG_LEVEL="INFO")
        proc = subprocess.Popen([*FOUREYES, "worker"], env=env, stdout=out, stderr=out)
        wait_until(lambda: "worker started" in log.read_text(), proc, "the worker did not log that it started")
        time.sleep(1)  # a poll cycle or so with nothing to do
        assert proc.poll() is None, log.read_text()
        assert stop(proc) == 0, log.read_text()
    assert "worker stopping" in log.read_text()


def test_db_upgrade_on_an_empty_directory_and_again(tmp_path: Path) -> None:
    fresh = base_settings(tmp_path / "fresh", None)
    env = command_env(fresh)
    first = run(env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "head" in first.stdout
    assert (tmp_path / "fresh" / "foureyes.db").exists()
    assert run(env, "db", "upgrade").returncode == 0
    assert run(env, "audit", "verify").returncode == 0


async def test_db_upgrade_is_a_no_op_on_a_migrated_database(settings: Settings) -> None:
    result = run(command_env(settings), "db", "upgrade")
    assert result.returncode == 0, result.stderr


async def test_audit_verify_exit_codes(settings: Settings, ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small(7))
    await apply_tenant_file(ctx, small(8))
    env = command_env(settings)
    ok = run(env, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "org 7:" in ok.stdout and "org 8:" in ok.stdout and "BROKEN" not in ok.stdout
    async with ctx.db.write() as s:
        await s.execute(
            update(AuditEvent).where(AuditEvent.org_id == 7, AuditEvent.seq == 2).values(actor="someone-else")
        )
    broken = run(env, "audit", "verify")
    assert broken.returncode == 1
    assert "org 7:" in broken.stdout and "BROKEN" in broken.stdout
    assert run(env, "audit", "verify", "--org", "8").returncode == 0
    assert run(env, "audit", "verify", "--org", "7").returncode == 1
