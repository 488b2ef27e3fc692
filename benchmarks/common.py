"""What every benchmark shares: a scratch store, a real uvicorn server, a seeded tenant, machine facts, results.

Loopback only: the server binds 127.0.0.1 on a free port and the EARN-BADGE downstream is routed back to it.
PostgreSQL runs use a scratch database on 127.0.0.1:5432 (user postgres) created here and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PG_ADMIN = os.environ.get("FOUREYES_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "benchmark-secret-key-not-for-production"
PASSWORD = "bench-pass-1"
ORG = 100
CONCEPT, ZONE, STORE, TILL = "50678331", "50682286", "50682288", "50682289"
ENTITY = {"tillId": TILL, "storeId": STORE, "zoneId": ZONE, "conceptId": CONCEPT}
FOREIGN_HOST = "https://crm-nightly-new.cc.capillarytech.com"
WF = "/api_gateway/v2/request-workflow"
BADGES = "/api_gateway/v1/badges"


def arguments(description: str, **defaults: Any) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=float, default=defaults.get("duration", 10.0), help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=defaults.get("concurrency", 16))
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default benchmarks/results/…)")
    parser.add_argument("--processes", type=int, default=1, help="server processes (`foureyes serve --processes`)")
    return parser


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()


def headers(username: str) -> dict[str, str]:
    return {"Authorization": basic(username), "X-CAP-API-AUTH-ORG-ID": str(ORG), "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the store ----------------------------------------------------------------------------------------------
@dataclass
class Store:
    kind: str
    data_dir: Path
    url: str | None
    pg_name: str | None = None

    def env(self, port: int) -> dict[str, str]:
        """The server's FOUREYES_* settings (production Argon2 cost; the hot path must not pay it)."""
        env = {
            "FOUREYES_DATA_DIR": str(self.data_dir),
            "FOUREYES_SECRET_KEY": SECRET,
            "FOUREYES_HOST": "127.0.0.1",
            "FOUREYES_PORT": str(port),
            "FOUREYES_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "FOUREYES_LOG_LEVEL": os.environ.get("FOUREYES_BENCH_LOG_LEVEL", "INFO"),
        }
        if self.url:
            env["FOUREYES_DATABASE_URL"] = self.url
        return env

    def settings(self, port: int = 8000) -> Any:
        from foureyes.core.settings import Settings

        values: dict[str, Any] = {
            "data_dir": self.data_dir,
            "database_url": self.url,
            "secret_key": SECRET,
            "public_base_url": f"http://127.0.0.1:{port}",
            "port": port,
        }
        return Settings(**values)


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def scratch_store(kind: str, keep: Path | None = None) -> Iterator[Store]:
    """A migrated empty store; dropped afterwards unless `keep` names a directory to reuse (SQLite only)."""
    from foureyes.core import migrate

    data_dir = keep or Path(tempfile.mkdtemp(prefix="foureyes-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        store = Store("sqlite", data_dir, None)
    else:
        name = f"foureyes_bench_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        store = Store("postgresql", data_dir, f"{base}/{name}", name)
    try:
        migrate.upgrade(store.settings())
        yield store
    finally:
        if store.pg_name:
            _pg_admin(f'DROP DATABASE IF EXISTS "{store.pg_name}" WITH (FORCE)')
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- the tenant ---------------------------------------------------------------------------------------------
async def seed_tenant(store: Store, customers: int = 1000) -> None:
    """Org 100 with the seed page's unit chain, the benchmark users and `customers` customers."""
    from foureyes.core.context import AppContext
    from foureyes.customers.models import Customer
    from foureyes.identity.service import GrantSpec, IdentityService

    ctx = AppContext.build(store.settings())
    try:
        svc = IdentityService(ctx.db)
        await svc.create_org(ORG, "Benchmark Retail")
        for unit, kind, parent in (
            (CONCEPT, "concept", None),
            (ZONE, "zone", CONCEPT),
            (STORE, "store", ZONE),
            (TILL, "till", STORE),
        ):
            await svc.create_unit(ORG, unit, kind, f"{kind} {unit}", parent)
        users = {
            "maker": ["CanMakeRequest"],
            "checker": ["CanCheckRequest"],
            "admin": ["CanConfigureWorkflows", "CanMakeRequest", "CanCheckRequest"],
            "writer": ["BadgesRead", "BadgesWrite"],
        }
        for name, perms in users.items():
            await svc.create_user(ORG, name, PASSWORD, "intouch", [GrantSpec(p) for p in perms])
        now = datetime.now(UTC).replace(tzinfo=None)
        async with ctx.db.write() as s:
            s.add_all(
                [
                    Customer(
                        org_id=ORG,
                        id=i,
                        mobile=f"9190000{i:06d}",
                        status_label="Active",
                        created_at=now,
                        updated_at=now,
                    )  # fmt: skip
                    for i in range(1, customers + 1)
                ]
            )
    finally:
        await ctx.close()


def create_badge(client: httpx.Client, **over: Any) -> str:
    """A live EARN badge claimed by Loyalty/626, created over HTTP; returns its id."""
    now = int(time.time())
    body: dict[str, Any] = {
        "name": f"Bench {uuid.uuid4().hex[:6]}",
        "description": "benchmark badge",
        "startOn": now - now % 86400,  # today 00:00 UTC: a past day is refused (722)
        "expiresOn": now + 30 * 86400,
        "earnType": "EARN",
        "active": True,
        "earnedBadgeExpiry": {"expiryType": "RELATIVE", "relativeExpirytype": "WEEKS", "value": 2},
        "ownership": {"restrictedToOwners": ["Loyalty"]},
        "customerConstraints": [],
        "badgeConstraints": [],
    }
    body.update(over)
    r = client.post(f"{BADGES}/badgeMeta", json=body, headers=headers("writer"))
    r.raise_for_status()
    badge = str(r.json()["data"]["id"])
    r = client.post(
        f"{BADGES}/badgeMeta/{badge}/claim",
        json={"ownerType": "Loyalty", "referenceId": "626"},
        headers=headers("writer"),
    )
    r.raise_for_status()
    return badge


def route_earn_badge_to(client: httpx.Client, base_url: str) -> None:
    """EARN-BADGE: allow the documented host and route it to this server (the downstream is ourselves)."""
    r = client.put(
        f"{WF}/config/EARN-BADGE",
        json={"allowedHosts": [FOREIGN_HOST], "hostRoutes": {FOREIGN_HOST: base_url}},
        headers=headers("admin"),
    )
    r.raise_for_status()


def earn_badge_body(badge: str, customer: int, request_id: str) -> dict[str, Any]:
    return {
        "entityInfo": ENTITY,
        "payload": {
            "IntouchAPITask-Payload": {
                "hostname": FOREIGN_HOST,
                "path": f"{BADGES}/customer/earn",
                "method": "POST",
                "pathParams": {},
                "body": {
                    "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"},
                    "customerId": customer,
                    "requestId": request_id,
                    "badgeMetaId": badge,
                },
                "headers": {"Authorization": basic("writer"), "content-type": "application/json"},
            }
        },
    }


def approve_body(request_id: str) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "actionName": "AdminTask",
        "payload": {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "bench"}},
    }


# --- the server ---------------------------------------------------------------------------------------------
@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def running_server(store: Store, *, worker: bool = True, processes: int = 1) -> Iterator[Server]:
    """`python -m benchmarks.server`: uvicorn on 127.0.0.1 (with the in-process worker), 1 or more processes."""
    port = free_port()
    log = store.data_dir / f"server-{port}.log"
    env = {**os.environ, **store.env(port), "BENCH_WORKER": "1" if worker else "0", "BENCH_PROCESSES": str(processes)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def warm_up(client: httpx.Client) -> None:
    """The first Basic call of each user pays Argon2 once; later calls hit the verification cache."""
    for user in ("maker", "checker", "admin", "writer"):
        client.get(f"{WF}/requests", params={"limit": 1}, headers=headers(user))


@contextmanager
def profiling(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy record of the server while the block runs: collapsed stacks of the thread holding the GIL."""
    if out is None:
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "200", "--gil", "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a multi-process server's children do the work)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def rss_kib(pid: int) -> int:
    """Resident memory of the process and its descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (from /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextmanager
def earn_badge_server(store: Store, customers: int, processes: int = 1) -> Iterator[tuple[Server, httpx.Client, str]]:
    """The seeded tenant and a warmed-up server with a live EARN badge, EARN-BADGE routed back to the server:
    (server, a client of it, the badge id)."""
    run(seed_tenant(store, customers))
    with (
        running_server(store, processes=processes) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        warm_up(http)
        badge = create_badge(http)
        route_earn_badge_to(http, server.base_url)
        yield server, http, badge


# --- facts and results --------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()
    return {
        "nproc": os.cpu_count(),
        "memory": mem[1].split()[1] if len(mem) > 1 else "?",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"load1": round(one, 2), "load5": round(five, 2), "load15": round(fifteen, 2)}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Report:
    benchmark: str
    store: str
    params: dict[str, Any]
    started: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    machine: dict[str, Any] = field(default_factory=machine)
    load_before: dict[str, float] = field(default_factory=load)
    load_after: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def save(self, out: Path | None) -> Path:
        self.load_after = load()
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = out or RESULTS / f"{self.benchmark}-{self.store}.json"
        path.write_text(json.dumps(self.__dict__, indent=2, default=str) + "\n")
        print(json.dumps({"figures": self.figures, "load": [self.load_before, self.load_after]}, indent=2))
        print(f"wrote {path}")
        return path


def run(coro: Any) -> Any:
    return asyncio.run(coro)
