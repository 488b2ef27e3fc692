"""Running the real `foureyes` command in a subprocess against a test database (either store)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from foureyes.core.settings import Settings

# The console script installed next to this interpreter (the same one `make run` calls).
FOUREYES = [str(Path(sys.executable).parent / "foureyes")]


def command_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points the command at the test's database, with test-cheap hashing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUREYES_")}
    env |= {
        "FOUREYES_DATA_DIR": str(settings.data_dir),
        "FOUREYES_SECRET_KEY": "test-secret-key-not-for-production",
        "FOUREYES_ARGON2_MEMORY_KIB": "1024",
        "FOUREYES_ARGON2_TIME_COST": "1",
        "FOUREYES_LOG_LEVEL": "WARNING",
    }
    if settings.database_url:
        env["FOUREYES_DATABASE_URL"] = settings.database_url
    return env | extra


def run(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FOUREYES, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], port: int, *extra: str, log: Path) -> Iterator[str]:
    """`foureyes serve` on `port` until /readyz answers 200; then SIGTERM, which must shut it down gracefully.

    Uvicorn finishes its shutdown (lifespan, in-process worker) and then re-raises the SIGTERM it caught,
    so the status is 0 or -SIGTERM; the log shows whether shutdown completed.
    """
    env = env | {"FOUREYES_LOG_LEVEL": "INFO"}
    with open(log, "w") as out:
        proc = subprocess.Popen([*FOUREYES, "serve", "--port", str(port), *extra], env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: ready(base), proc, "serve did not answer /readyz")
            yield base
        finally:
            code = stop(proc)
    text = log.read_text()
    assert code in (0, -signal.SIGTERM), f"serve exited with {code} after SIGTERM:\n{text[-2000:]}"
    assert "Application shutdown complete" in text and "Finished server process" in text, text[-2000:]


def ready(base: str) -> bool:
    """Whether the server at `base` answers /readyz with 200."""
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    """Poll `check` while the process lives; fail if it exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM and wait; the exit code (a clean shutdown is 0)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("did not stop within the timeout after SIGTERM") from None
    return proc.returncode
