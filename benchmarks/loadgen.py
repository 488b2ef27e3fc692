"""Load generators run from the benchmark's own process (never the server's): async httpx or wrk.

`closed_loop` keeps `concurrency` operations in flight for `duration` seconds and times each; `open_loop` starts
operations at a given rate whether or not earlier ones have finished (latency at an offered load); `wrk_post`
drives one POST with wrk (C, far cheaper per request than a Python client, so it can saturate the server).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile

Operation = Callable[[httpx.AsyncClient, int, int], Awaitable[Any]]


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    shed: int = 0  # open loop: arrivals not started because `max_in_flight` operations were still running
    elapsed: float = 0.0
    start_lag_ms: list[float] = field(default_factory=list)  # open loop: how late each arrival was started
    in_flight_at_end: int = 0  # open loop: operations still running when the arrival window closed
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "ok": self.ok,
            "errors": self.errors,
            "seconds": round(self.elapsed, 2),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "error_samples": self.error_samples[:3],
        }


def client(base_url: str, concurrency: int) -> httpx.AsyncClient:
    # Idle connections are dropped after 2 s, well before uvicorn closes them (5 s): reusing one just as the server
    # closes it fails the request with a ReadError, and a busy server (its loop runs the close timer before
    # reading the request that just arrived) widens that window; the open loop hit it ~4 times in 18,000 requests.
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0, trust_env=False)


async def _timed(result: LoadResult, op: Operation, http: httpx.AsyncClient, worker: int, seq: int) -> None:
    t0 = time.perf_counter()
    try:
        await op(http, worker, seq)
    except Exception as exc:  # an error is a figure, not a crash
        result.errors += 1
        if len(result.error_samples) < 5:
            result.error_samples.append(f"{type(exc).__name__}: {str(exc)[:300]}")
    else:
        result.ok += 1
        result.latencies_ms.append((time.perf_counter() - t0) * 1000)


async def closed_loop(base_url: str, concurrency: int, duration: float, op: Operation) -> LoadResult:
    """`concurrency` workers each run `op(client, worker, seq)` back to back until `duration` has passed."""
    result = LoadResult()
    async with client(base_url, concurrency) as http:
        start = time.perf_counter()
        deadline = start + duration

        async def worker(w: int) -> None:
            seq = 0
            while time.perf_counter() < deadline:
                await _timed(result, op, http, w, seq)
                seq += 1

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        result.elapsed = time.perf_counter() - start
    return result


async def open_loop(
    base_url: str, rate: float, duration: float, op: Operation, max_in_flight: int = 256, seed: int = 7
) -> LoadResult:
    """Start `op(client, n, 0)` at Poisson arrivals of `rate` per second for `duration` seconds, whether or not
    earlier operations have finished: a closed loop measures latency at whatever load its clients make, this one
    at a chosen offered load. An arrival that finds `max_in_flight` operations running is shed (counted, not
    started): the server is past its capacity. Returns after every started operation has finished; `elapsed`
    is the arrival window."""
    result = LoadResult()
    arrivals = random.Random(seed)
    running: set[asyncio.Task[None]] = set()
    async with client(base_url, max_in_flight) as http:
        start = time.perf_counter()
        due, n = start, 0
        while True:
            due += arrivals.expovariate(rate)
            if due - start >= duration:
                break
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            if len(running) >= max_in_flight:
                result.shed += 1
                continue
            result.start_lag_ms.append(max(0.0, time.perf_counter() - due) * 1000)
            task = asyncio.create_task(_timed(result, op, http, n, 0))
            running.add(task)
            task.add_done_callback(running.discard)
            n += 1
        result.elapsed = time.perf_counter() - start
        result.in_flight_at_end = len(running)
        await asyncio.gather(*running)
    return result


def expect_ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code} {response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data


# --- wrk ----------------------------------------------------------------------------------------------------
def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua(body: dict[str, Any], headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def wrk_post(
    url: str, body: dict[str, Any], headers: dict[str, str], duration: float, connections: int
) -> dict[str, Any]:
    """One wrk run (1 thread); requests/s, latency percentiles and non-2xx count as wrk reports them."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_lua(body, headers))
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {q: _ms(v) for q, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    return {
        "per_second": round(rps, 1),
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "p50_ms": round(lat.get("50", float("nan")), 2),
        "p90_ms": round(lat.get("90", float("nan")), 2),
        "p99_ms": round(lat.get("99", float("nan")), 2),
    }
