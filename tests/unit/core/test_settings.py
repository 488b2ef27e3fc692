"""Settings: FOUREYES_* environment, URL normalisation, the generated secret key, no import-time reads."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from foureyes.core.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FOUREYES_"):
            monkeypatch.delenv(name)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.data_dir == Path("./var")
    assert s.is_sqlite
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'var' / 'foureyes.db').resolve()}"
    assert (s.host, s.port, s.max_body_bytes) == ("127.0.0.1", 8000, 1024 * 1024)


def test_env_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUREYES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FOUREYES_PORT", "9001")
    monkeypatch.setenv("FOUREYES_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("FOUREYES_UI_TOKEN_TTL_SECONDS", "60")
    monkeypatch.setenv("PORT", "1")  # unprefixed variables are not ours
    s = Settings()
    assert (s.data_dir, s.port, s.max_body_bytes, s.ui_token_ttl_seconds) == (tmp_path, 9001, 2048, 60)


def test_explicit_values_win_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUREYES_PORT", "9001")
    assert Settings(port=9002).port == 9002


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/x", "postgresql+psycopg://u:p@db:5432/x"),
        ("postgresql://u@db/x", "postgresql+psycopg://u@db/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite+aiosqlite:////tmp/f.db", "sqlite+aiosqlite:////tmp/f.db"),
    ],
)
def test_database_url_normalisation(given: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUREYES_DATABASE_URL", given)
    s = Settings()
    assert s.resolved_database_url == expected
    assert s.is_sqlite == expected.startswith("sqlite")


def test_secret_key_generated_once_and_reused(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data").resolved_secret_key
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.read_text() == first
    assert len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key == first
    assert Settings(data_dir=tmp_path / "other").resolved_secret_key != first


def test_configured_secret_key_is_used_and_nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUREYES_SECRET_KEY", "from-env")
    s = Settings(data_dir=tmp_path)
    assert s.resolved_secret_key == "from-env"
    assert "from-env" not in repr(s)  # SecretStr keeps it out of reprs and logs
    assert not (tmp_path / "secret.key").exists()


def test_nothing_is_read_or_written_at_import_time(tmp_path: Path) -> None:
    data_dir = tmp_path / "never-created"
    code = (
        "import os\n"
        "import foureyes.app, foureyes.cli.main, foureyes.core.settings as s\n"
        f"assert not os.path.exists({str(data_dir)!r}), 'data dir created at import'\n"
        "os.environ['FOUREYES_PORT'] = '9123'\n"
        "assert s.Settings().port == 9123, 'settings were frozen at import time'\n"
    )
    env = {**os.environ, "FOUREYES_DATA_DIR": str(data_dir), "FOUREYES_PORT": "9000"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not data_dir.exists()


def test_a_lease_shorter_than_the_downstream_timeout_is_warned_about(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).warnings() == []
    short = Settings(data_dir=tmp_path, worker_lease_seconds=5, downstream_timeout_seconds=10)
    [warning] = short.warnings()
    assert "FOUREYES_WORKER_LEASE_SECONDS (5)" in warning and "FOUREYES_DOWNSTREAM_TIMEOUT_SECONDS (10)" in warning


def test_the_cli_names_a_bad_variable_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUREYES_")}
    env |= {"FOUREYES_DATA_DIR": str(tmp_path), "FOUREYES_PORT": "eighty"}
    foureyes = str(Path(sys.executable).parent / "foureyes")
    result = subprocess.run([foureyes, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid configuration: FOUREYES_PORT: ")
    assert "Traceback" not in result.stderr and not (tmp_path / "foureyes.db").exists()
