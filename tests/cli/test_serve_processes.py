"""`foureyes serve --processes N`: N server processes on one port, each a full API (and worker), stopped together."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx

from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from foureyes.tenants.apply import apply_tenant_file
from tests.integration.tenants.helpers import small
from tests.integration.tenants.proc import FOUREYES, command_env, free_port, ready, stop, wait_until


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _servers(pid: int) -> list[int]:
    """The server processes among `pid`'s children (multiprocessing also starts a resource tracker there)."""
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def _many_reads(base: str, n: int) -> list[int]:
    auth = httpx.BasicAuth("till7", "pw-till")
    async with httpx.AsyncClient(base_url=base, auth=auth, headers={"X-CAP-API-AUTH-ORG-ID": "7"}) as client:
        answers = await asyncio.gather(*(client.get("/api_gateway/v1/badges/badgeMeta") for _ in range(n)))
    return [r.status_code for r in answers]


async def test_two_processes_share_the_port_and_stop_on_sigterm(
    settings: Settings, ctx: AppContext, tmp_path: Path
) -> None:
    await apply_tenant_file(ctx, small(7))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = command_env(settings, FOUREYES_LOG_LEVEL="INFO")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*FOUREYES, "serve", "--port", str(port), "--processes", "2"], env=env, stdout=out, stderr=out
        )
        try:
            wait_until(lambda: ready(base) and len(_servers(proc.pid)) == 2, proc, "two processes did not start")
            servers = _servers(proc.pid)
            helpers = [pid for pid in _children(proc.pid) if pid not in servers]
            assert all(_alive(pid) for pid in servers), log.read_text()[-2000:]
            assert set(await _many_reads(base, 40)) == {200}, log.read_text()[-2000:]
        finally:
            code = stop(proc)
    text = log.read_text()
    assert code in (0, -signal.SIGTERM), text[-2000:]
    assert text.count("Application shutdown complete") >= 2, text[-2000:]
    assert text.count("start-up objects frozen") == 2, text[-2000:]  # each server process, once (core/heap.py)
    # The parent joins its servers before it exits; the resource tracker leaves on its own once the parent's
    # pipe closes, a moment later, so it gets a few seconds.
    assert not any(_alive(pid) for pid in servers)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in helpers)


def test_processes_must_be_positive(settings: Settings) -> None:
    result = subprocess.run(
        [*FOUREYES, "serve", "--processes", "0"], env=command_env(settings), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "Invalid value for '--processes'" in result.stderr
