"""Client CPU per outbound call: httpx's default transport (httpcore on anyio) against `core.outbound`.

    python -m benchmarks.bench_outbound [--calls 3000] [--rounds 3]

A tiny ASGI app under uvicorn (another process, 127.0.0.1) answers a small JSON object; this process makes
keep-alive POSTs shaped like the executor's badge earn (JSON body, query parameter, credentials header), one at a
time and 16 in flight, and reads its own CPU time per call. The two clients alternate within each round, so both
see the same machine. Only the client's CPU is measured: the server's is the same for both.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import uvloop

from benchmarks.common import free_port, load
from foureyes.core.outbound import outbound_client

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    body = b'{"data":{"ok":true},"errors":[],"warnings":[]}'
    headers = [(b"content-type", b"application/json"), (b"x-cap-request-id", b"r-1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "httpx default (anyio)": lambda: httpx.AsyncClient(timeout=TIMEOUT, trust_env=False),
    "core.outbound (asyncio)": lambda: outbound_client(TIMEOUT),
}


async def cpu_per_call(make: Callable[[], httpx.AsyncClient], url: str, calls: int, in_flight: int) -> float:
    """Microseconds of this process's CPU per call, after a warm-up that fills the pool."""
    body = {"badgeMetaId": "658c", "customerId": 382477526, "requestId": "r", "triggeredBy": {"ownerType": "Loyalty"}}
    async with make() as client:

        async def caller(n: int) -> None:
            for _ in range(n):
                r = await client.post(url, params={"dryRun": "false"}, json=body, headers={"Authorization": "Basic x"})
                r.raise_for_status()
                r.json()

        await asyncio.gather(*(caller(20) for _ in range(in_flight)))
        started = time.process_time()
        await asyncio.gather(*(caller(calls // in_flight) for _ in range(in_flight)))
        return 1e6 * (time.process_time() - started) / (calls // in_flight * in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    with TemporaryDirectory() as tmp:
        (Path(tmp) / "tinyapp.py").write_text(APP)
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tinyapp:app", "--app-dir", tmp, "--port", str(port)]
            + ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
        )
        try:
            url = f"http://127.0.0.1:{port}/api_gateway/v1/badges/customer/earn"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until uvicorn listens
                try:
                    httpx.get(url, timeout=0.5)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            print(f"load {load()['load1']}, {args.calls} calls a measure")
            print("| round | client | µs CPU a call, one at a time | 16 in flight |")
            print("|---|---|---|---|")
            for round_no in range(1, args.rounds + 1):
                for name, make in CLIENTS.items():
                    one = uvloop.run(cpu_per_call(make, url, args.calls, 1))
                    many = uvloop.run(cpu_per_call(make, url, args.calls, 16))
                    print(f"| {round_no} | {name} | {one:.0f} | {many:.0f} |")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
