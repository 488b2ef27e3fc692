"""The banner `make run` prints: URLs from the settings, every demo user, the walk-through commands."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

from foureyes.core.settings import Settings
from foureyes.demo.banner import demo_tenant, passwords, render
from tests.integration.tenants.proc import command_env

SEED_HEADER = "YWIxMjQ6MjVkNTVhZDI4M2FhNDAwYWY0NjRjNzZkNzEzYzA3YWQ="


def test_render_names_urls_users_and_curl_steps(tmp_path: Path) -> None:
    text = render(Settings(data_dir=tmp_path, public_base_url="http://demo.example:9000"))
    assert "http://demo.example:9000/console/" in text and "http://demo.example:9000/docs" in text
    for username, password in passwords().items():
        assert username in text and password in text
    assert text.count("curl -s") == 5
    assert "BASE=http://demo.example:9000" in text


def test_demo_file_matches_the_seed_page() -> None:
    org = demo_tenant()["orgs"][0]
    assert org["id"] == 1
    till_user = next(u for u in org["users"] if u["username"] == "ab124")
    md5 = hashlib.md5(till_user["password"].encode()).hexdigest()
    assert base64.b64encode(f"ab124:{md5}".encode()).decode() == SEED_HEADER
    checkers = [u for u in org["users"] if any(p["name"] == "CanCheckRequest" for p in u["permissions"])]
    assert len(checkers) == 2
    assert set(org["workflows"]) == {"EARN-BADGE", "ISSUE-BADGE", "CUSTOMER-STATUS-CHANGE"}


def test_module_runs_as_make_run_calls_it(settings: Settings) -> None:
    env = command_env(settings, FOUREYES_PUBLIC_BASE_URL="http://127.0.0.1:8123")
    done = subprocess.run(
        [sys.executable, "-m", "foureyes.demo.banner"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "http://127.0.0.1:8123/console/" in done.stdout
