"""Real `foureyes` processes for the cluster and fault tests: start, wait until ready, stop, collect logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

PG_ADMIN = os.environ.get("FOUREYES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
FOUREYES = str(Path(sys.executable).with_name("foureyes"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def pg_url(dbname: str, host: str = "127.0.0.1", port: int = 5432) -> str:
    return f"postgresql+psycopg://postgres@{host}:{port}/{dbname}"


def fresh_pg_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env(data_dir: Path, database_url: str | None, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUREYES_")}
    env.update(
        {
            "FOUREYES_DATA_DIR": str(data_dir),
            "FOUREYES_SECRET_KEY": "cluster-test-secret-key-not-for-production",
            "FOUREYES_ARGON2_MEMORY_KIB": "1024",
            "FOUREYES_ARGON2_TIME_COST": "1",
            "FOUREYES_LOG_LEVEL": "WARNING",
        }
    )
    if database_url:
        env["FOUREYES_DATABASE_URL"] = database_url
    env.update({f"FOUREYES_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FOUREYES, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Proc:
    """One child process with its log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen([FOUREYES, *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None and self.popen.poll() is None, f"{self.name} exited:\n{self.log()}"
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after `timeout`)."""
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
                raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s:\n{self.log()}") from None
        return int(self.popen.returncode)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def api(name: str, env: dict[str, str], tmp: Path, *, worker: bool = False, port: int | None = None) -> Proc:
    port = port or free_port()
    args = ["serve", "--port", str(port)] + ([] if worker else ["--no-worker"])
    return Proc(name, args, env, tmp / f"{name}.log", port=port)


def worker(name: str, env: dict[str, str], tmp: Path) -> Proc:
    return Proc(name, ["worker"], env, tmp / f"{name}.log")


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
