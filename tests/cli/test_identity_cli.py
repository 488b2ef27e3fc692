"""`foureyes db|org|unit|user|client|audit` as scripts run them: real subprocesses on both stores."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from foureyes.identity.service import IdentityService
from tests.conftest import _pg_admin, _pg_url

EXE = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "foureyes")


def command_env(data_dir: Path, url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUREYES_")}
    env.update(
        FOUREYES_DATA_DIR=str(data_dir),
        FOUREYES_SECRET_KEY="cli-test-secret",
        FOUREYES_ARGON2_MEMORY_KIB="1024",
        FOUREYES_ARGON2_TIME_COST="1",
    )
    if url:
        env["FOUREYES_DATABASE_URL"] = url
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=120)


def ok_json(env: dict[str, str], *args: str) -> Any:
    result = run(env, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """The environment of a migrated per-test database (the same one the `ctx` fixture opens)."""
    return command_env(settings.data_dir, settings.database_url)


@pytest.fixture
def empty_env(store: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A store with no schema at all."""
    if store == "sqlite":
        yield command_env(tmp_path / "fresh", None)
        return
    name = f"foureyes_cli_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield command_env(tmp_path / "fresh", _pg_url(name))
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_db_upgrade_on_an_empty_store_then_again(empty_env: dict[str, str]) -> None:
    first = run(empty_env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "database at head" in first.stdout
    assert run(empty_env, "db", "upgrade").returncode == 0  # idempotent
    assert ok_json(empty_env, "org", "list") == []


async def test_tenant_administration(env: dict[str, str], ctx: AppContext) -> None:
    assert ok_json(env, "org", "create", "--id", "100", "--name", "Demo Retail") == {"id": 100, "name": "Demo Retail"}
    assert ok_json(env, "org", "create", "--id", "200", "--name", "Other")["id"] == 200
    assert [o["id"] for o in ok_json(env, "org", "list")] == [100, 200]
    duplicate = run(env, "org", "create", "--id", "100", "--name", "Again")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    chain = [("concept", "C1", None), ("zone", "Z1", "C1"), ("store", "S1", "Z1"), ("till", "T1", "S1")]
    for kind, unit, parent in chain:
        args = ["unit", "create", "--org", "100", "--id", unit, "--kind", kind, "--name", unit]
        created = ok_json(env, *args, *(["--parent", parent] if parent else []))
        assert created["kind"] == kind
    assert created["path"] == "/C1/Z1/S1/T1/"
    till_under_zone = run(env, "unit", "create", "--org", "100", "--id", "T2", "--kind", "till", "--parent", "Z1")
    assert till_under_zone.returncode == 1 and "must be an existing store" in till_under_zone.stderr
    assert run(env, "unit", "create", "--org", "100", "--id", "Z9", "--kind", "zone").returncode == 1
    units = ok_json(env, "unit", "list", "--org", "100")
    assert [(u["id"], u["parent"]) for u in units] == [("C1", None), ("Z1", "C1"), ("S1", "Z1"), ("T1", "S1")]
    tree = run(env, "unit", "list", "--org", "100")
    assert tree.stdout.splitlines()[-1] == "      till T1 T1"

    user = ok_json(
        env,
        *("user", "create", "--org", "100", "--username", "maker@demo.test", "--password", "pw-123"),
        *("--permission", "CanMakeRequest", "--permission", "CanCheckRequest@Z1"),
    )
    assert isinstance(user["userId"], int) and user["kind"] == "intouch" and user["org"] == 100
    till = ok_json(
        env,
        *("user", "create", "--org", "100", "--username", "ab124", "--kind", "till"),
        *("--permission", "BadgesRead"),
        "--password",
        "12345678",
    )
    assert till["kind"] == "till"
    listed = {u["username"]: u for u in ok_json(env, "user", "list", "--org", "100")}
    assert sorted((p["name"], p["unit"]) for p in listed["maker@demo.test"]["permissions"]) == [
        ("CanCheckRequest", "Z1"),
        ("CanMakeRequest", None),
    ]
    for bad in (["--permission", "CanFly"], ["--permission", "CanMakeRequest@NOPE"]):
        refused = run(env, "user", "create", "--org", "100", "--username", f"u{len(bad[1])}", "--password", "x", *bad)
        assert refused.returncode == 1, refused.stdout
    taken = run(env, "user", "create", "--org", "200", "--username", "maker@demo.test", "--password", "x")
    assert taken.returncode == 1 and "taken" in taken.stderr  # usernames are global

    client = ok_json(
        env, "client", "create", "--org", "100", "--key", "k-100", "--secret", "s-100", "--permission", "BadgesRead"
    )
    assert client["key"] == "k-100"
    clients = run(env, "client", "list", "--org", "100", "--json")
    assert json.loads(clients.stdout)[0]["permissions"] == [{"name": "BadgesRead", "unit": None}]
    assert "s-100" not in clients.stdout

    # What the CLI created is usable by the running service.
    header = "Basic " + base64.b64encode(b"maker@demo.test:pw-123").decode()
    principal = await ctx.auth.from_basic(header)
    assert principal.org_id == 100 and principal.can("CanCheckRequest", "/C1/Z1/S1/")
    token, _ = await ctx.auth.issue_oauth_token("k-100", "s-100")
    assert (await ctx.auth.from_oauth(token)).org_id == 100


def test_secrets_can_come_from_the_environment(env: dict[str, str]) -> None:
    assert run(env, "org", "create", "--id", "1", "--name", "One").returncode == 0
    scripted = {**env, "FOUREYES_NEW_USER_PASSWORD": "from-env", "FOUREYES_NEW_CLIENT_SECRET": "also-env"}
    assert ok_json(scripted, "user", "create", "--org", "1", "--username", "env-user")["username"] == "env-user"
    assert ok_json(scripted, "client", "create", "--org", "1", "--key", "env-key")["key"] == "env-key"


async def _sql(ctx: AppContext, statement: str, **params: object) -> None:
    async with ctx.db.write() as s:
        await s.execute(text(statement), params)


async def _audited_tenants(ctx: AppContext) -> None:
    """Org 100 with three events (org, two users), org 200 with one; built in-process to keep the test fast."""
    svc = IdentityService(ctx.db)
    await svc.create_org(100, "A")
    await svc.create_org(200, "B")
    for name in ("u1", "u2"):
        await svc.create_user(100, name, "p", "intouch", [])


def test_commands_refuse_an_unmigrated_store(empty_env: dict[str, str]) -> None:
    result = run(empty_env, "org", "list")
    assert result.returncode == 1
    assert "foureyes db upgrade" in result.stderr and "Traceback" not in result.stderr


async def test_audit_verify_detects_an_edited_row(env: dict[str, str], ctx: AppContext, store: str) -> None:
    await _audited_tenants(ctx)
    intact = run(env, "audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "org 100: 3 events, ok" in intact.stdout and "org 200: 1 events, ok" in intact.stdout

    cast = "CAST(:d AS JSON)" if store == "postgresql" else ":d"
    await _sql(ctx, f"UPDATE audit_events SET data = {cast} WHERE org_id = 100 AND seq = 1", d='{"name": "Z"}')
    broken = run(env, "audit", "verify")
    assert broken.returncode == 1
    assert "org 100: 0 events, BROKEN: event seq 1 was altered" in broken.stdout
    assert "org 200: 1 events, ok" in broken.stdout
    assert run(env, "audit", "verify", "--org", "200").returncode == 0


async def test_audit_verify_detects_deleted_events(env: dict[str, str], ctx: AppContext) -> None:
    await _audited_tenants(ctx)
    await _sql(ctx, "DELETE FROM audit_events WHERE org_id = 100 AND seq = 3")  # the last one
    last = run(env, "audit", "verify", "--org", "100")
    assert last.returncode == 1 and "head says 3" in last.stdout, last.stdout
    await _sql(ctx, "DELETE FROM audit_events WHERE org_id = 100 AND seq = 1")  # and a gap before seq 2
    gap = run(env, "audit", "verify", "--org", "100")
    assert gap.returncode == 1 and "event seq 1 is missing" in gap.stdout, gap.stdout
