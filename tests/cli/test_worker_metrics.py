"""A dedicated `foureyes worker` exports its metrics when FOUREYES_WORKER_METRICS_PORT is set."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from foureyes.core.settings import Settings
from tests.integration.tenants.proc import FOUREYES, command_env, free_port, stop, wait_until


def _metrics(url: str) -> str | None:
    try:
        answer = httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return None
    return answer.text if answer.status_code == 200 else None


def test_worker_serves_metrics_on_the_configured_port(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "worker.log"
    env = command_env(settings, FOUREYES_WORKER_METRICS_PORT=str(port), FOUREYES_LOG_LEVEL="INFO")
    with open(log, "w") as out:
        proc = subprocess.Popen([*FOUREYES, "worker"], env=env, stdout=out, stderr=out)
        try:
            # The jobs-due gauge is sampled by the worker's job loop, so its presence shows the loops' registry.
            wait_until(lambda: "foureyes_jobs_due" in (_metrics(url) or ""), proc, "no worker metrics")
            assert "foureyes_executions_total" in (_metrics(url) or "")
        finally:
            assert stop(proc) == 0, log.read_text()[-2000:]
    # Its start-up objects were frozen once its loops ran (core/heap.py): full collections skip them.
    frozen = [line for line in log.read_text().splitlines() if "start-up objects frozen" in line]
    assert len(frozen) == 1 and int(frozen[0].split("objects=")[1].split()[0]) > 10_000, log.read_text()[-2000:]
