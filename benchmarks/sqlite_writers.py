"""SQLite writers in several processes: how they share the write lock.

    python -m benchmarks.sqlite_writers [--processes 2] [--tasks 4] [--duration 5] [--row-bytes 1]

Each process opens `foureyes.core.database.Database` on one scratch SQLite file and runs `--tasks` concurrent
write transactions (an INSERT and ~0.5 ms of awaited work inside, as a request's transaction has) for
`--duration` seconds, as `foureyes serve --processes N` and `foureyes worker` processes do on one node. It prints,
per process, the transactions done and their p50/p99/p99.9/max wall time, which includes waiting for the other
processes' lock and for anything the write connection itself waits for (a WAL checkpoint: `--processes 1
--row-bytes 4000` writes about a page per transaction, as a created request does). For a before/after of a
driver change, run it with `PYTHONPATH=<other checkout>/src` alternately.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import percentile


async def _writer(path: Path, tasks: int, duration: float, row_bytes: int) -> dict[str, float]:
    from sqlalchemy import text

    from foureyes.core.database import Database
    from foureyes.core.settings import Settings

    settings = Settings(data_dir=path.parent, database_url=f"sqlite+aiosqlite:///{path}", secret_key="x" * 32)
    db = Database(settings)
    seconds: list[float] = []
    stop = time.monotonic() + duration
    value = "x" * row_bytes

    async def loop() -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with db.write() as s:
                await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
                await asyncio.sleep(0.0005)
            seconds.append(time.perf_counter() - started)

    cpu = time.process_time()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    cpu = time.process_time() - cpu
    await db.dispose()
    ms = [1000 * s for s in seconds]
    return {
        "transactions": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "p999_ms": percentile(ms, 99.9),
        "max_ms": max(ms),
        "cpu_s": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--row-bytes", type=int, default=1, help="bytes of text each transaction inserts")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_writer(args.child, args.tasks, args.duration, args.row_bytes))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "writers.db"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.close()
        command = [sys.executable, "-m", "benchmarks.sqlite_writers", "--child", str(path)]
        command += ["--tasks", str(args.tasks), "--duration", str(args.duration), "--row-bytes", str(args.row_bytes)]
        children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(args.processes)]
        print("| process | transactions | p50 ms | p99 ms | p99.9 ms | max ms | CPU s |")
        print("|---|---|---|---|---|---|---|")
        for number, child in enumerate(children, 1):
            out = json.loads(child.communicate()[0])
            figures = " | ".join(f"{out[key]:.2f}" for key in ("p50_ms", "p99_ms", "p999_ms", "max_ms", "cpu_s"))
            print(f"| {number} | {out['transactions']} | {figures} |")


if __name__ == "__main__":
    main()
