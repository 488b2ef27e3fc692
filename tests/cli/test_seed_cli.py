"""`foureyes seed` / `seed --dry-run` / `export` as an operator runs them: real subprocesses, both stores."""

from __future__ import annotations

import json
from pathlib import Path

from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from foureyes.identity.models import Org
from tests.integration.tenants.helpers import audit_count, small
from tests.integration.tenants.proc import command_env, run


async def test_seed_dry_run_seed_again_export_and_reseed(settings: Settings, ctx: AppContext, tmp_path: Path) -> None:
    env = command_env(settings)
    file = tmp_path / "tenant.json"
    file.write_text(json.dumps(small()))

    preview = run(env, "seed", "--dry-run", str(file))
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["dryRun"] is True
    async with ctx.db.read() as s:
        assert await s.get(Org, 7) is None

    first = run(env, "seed", str(file))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert all(isinstance(u["userId"], int) for u in summary["orgs"][0]["users"])
    events = await audit_count(ctx)

    second = json.loads(run(env, "seed", str(file)).stdout)
    assert second["counts"]["created"] == second["counts"]["updated"] == 0
    assert await audit_count(ctx) == events

    exported = run(env, "export", "--org", "7")
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    assert doc["orgs"][0]["id"] == 7 and "password" not in exported.stdout
    out = tmp_path / "export.json"
    assert run(env, "export", "--org", "7", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == doc
    reseeded = run(env, "seed", str(out))
    assert reseeded.returncode == 0, reseeded.stderr
    counts = json.loads(reseeded.stdout)["counts"]
    assert counts["created"] == counts["updated"] == 0
    assert await audit_count(ctx) == events


async def test_a_bad_file_exits_1_with_every_problem_and_applies_nothing(
    settings: Settings, ctx: AppContext, tmp_path: Path
) -> None:
    env = command_env(settings)
    doc = small()
    doc["orgs"][0]["users"][0]["permissions"][0]["name"] = "CanFly"
    doc["orgs"][0]["units"][0]["children"][0]["children"][0]["kind"] = "till"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(doc))
    result = run(env, "seed", str(file))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["applied"] is False
    paths = {p["path"] for p in report["problems"]}
    assert {"orgs[0].users[0].permissions[0].name", "orgs[0].units[0].children[0].children[0].kind"} <= paths
    assert "orgs[0].users[0].permissions[0].name" in result.stderr
    async with ctx.db.read() as s:
        assert await s.get(Org, 7) is None

    broken = tmp_path / "broken.json"
    broken.write_text('{"orgs": [')
    result = run(env, "seed", str(broken))
    assert result.returncode == 1 and json.loads(result.stdout)["problems"][0]["path"] == "$"
    missing = run(env, "export", "--org", "424242")
    assert missing.returncode == 1 and "424242" in missing.stderr
