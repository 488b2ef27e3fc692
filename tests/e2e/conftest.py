"""End-to-end fixtures: a real `foureyes serve` on 127.0.0.1, the seed's tenant, and a fake downstream server.

The process helpers (`Proc`, `base_env`, `run_cli`, `free_port`) are the cluster tests' (tests/cluster/procs.py).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.cluster import procs

ORG = 100
SEED_HOST = "https://crm-nightly-new.cc.capillarytech.com"
FAKE_NAME = "https://points.downstream.test"  # allow-listed by name, routed to the fake server's port
CONCEPT, ZONE, STORE, TILL = "50678331", "50682286", "50682288", "50682289"
CUSTOMER = 382477526
CUSTOMER_MOBILE = "919999999999"
EARN_BADGE = "658c50761c4c2b12732c3ec6"
ISSUE_BADGE = "658c50761c4c2b12732c3ec9"
USERS = {
    "maker": ("maker@demo.test", "maker-pass-1"),
    "checker": ("checker@demo.test", "checker-pass-1"),
    "admin": ("admin@demo.test", "admin-pass-1"),
    "till": ("ab124", "12345678"),  # the seed's Basic header is ab124:md5("12345678")
}
TYPES = ("EARN-BADGE", "ISSUE-BADGE", "CUSTOMER-STATUS-CHANGE", "POINTS-REDEMPTION", "GOODWILL-POINTS",
         "RETRO-TRANSACTION")  # fmt: skip


def basic(user: str) -> str:
    name, password = USERS[user]
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def headers(user: str) -> dict[str, str]:
    return {"Authorization": basic(user), "X-CAP-API-AUTH-ORG-ID": str(ORG)}


def _badge(badge_id: str, name: str, earn_type: str) -> dict[str, Any]:
    return {
        "id": badge_id,
        "meta": {
            "name": name, "description": "through the request workflow",
            "startOn": "2024-01-01T00:00:00Z", "expiresOn": "2099-12-31T00:00:00Z",
            "earnType": earn_type, "active": True, "earnedBadgeExpiry": {"expiryType": "NEVER"},
            "ownership": {"restrictedToOwners": ["Goodwill_Module"]},
            "customerConstraints": [], "badgeConstraints": [],
        },
        "claims": [{"ownerType": "Goodwill_Module", "referenceId": "123"}],
    }  # fmt: skip


def tenant_file(own_base: str, fake_base: str) -> dict[str, Any]:
    """The seed page's org: its unit chain, users, customer, badge, and every type's allow-list and route."""
    perms = lambda *names: [{"name": n, "unit": None} for n in names]  # noqa: E731
    ours = {"allowedHosts": [SEED_HOST], "hostRoutes": {SEED_HOST: own_base}}
    fake = {"allowedHosts": [FAKE_NAME], "hostRoutes": {FAKE_NAME: fake_base}}
    return {
        "orgs": [{
            "id": ORG, "name": "Demo Retail",
            "units": [{"kind": "concept", "id": CONCEPT, "name": "C", "children": [
                {"kind": "zone", "id": ZONE, "name": "Z", "children": [
                    {"kind": "store", "id": STORE, "name": "S", "children": [
                        {"kind": "till", "id": TILL, "name": "T"}]}]}]}],
            "users": [
                {"username": USERS["maker"][0], "password": USERS["maker"][1], "kind": "intouch",
                 "permissions": perms("CanMakeRequest")},
                {"username": USERS["checker"][0], "password": USERS["checker"][1], "kind": "intouch",
                 "permissions": perms("CanCheckRequest")},
                {"username": USERS["admin"][0], "password": USERS["admin"][1], "kind": "intouch",
                 "permissions": perms("CanConfigureWorkflows", "CanCheckRequest", "BadgesRead", "CustomersWrite")},
                {"username": USERS["till"][0], "password": USERS["till"][1], "kind": "till",
                 "permissions": perms("BadgesRead", "BadgesWrite", "CustomersWrite")},
            ],
            "customers": [{"id": CUSTOMER, "mobile": CUSTOMER_MOBILE, "email": "c@demo.test", "externalId": "ext-1"}],
            "badges": [_badge(EARN_BADGE, "Seed star", "EARN"), _badge(ISSUE_BADGE, "Enrolled star", "ISSUE_EARN")],
            "workflows": {
                "EARN-BADGE": ours, "ISSUE-BADGE": ours, "CUSTOMER-STATUS-CHANGE": ours,
                "POINTS-REDEMPTION": fake, "GOODWILL-POINTS": fake, "RETRO-TRANSACTION": fake,
            },
        }]
    }  # fmt: skip


# --- the fake downstream -------------------------------------------------------------------------------------
@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    """A real HTTP server on 127.0.0.1: applies one effect per idempotency key and answers 201 with its id.

    `forward_to` relays every call to another base URL instead (used to stand between foureyes and its own
    badges API). `hang_first` makes the first call apply its effect and then never answer until released.
    """

    port: int = 0
    calls: list[Recorded] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)
    forward_to: str | None = None
    hang_first: bool = False
    redirect_to: str | None = None
    release: threading.Event = field(default_factory=threading.Event)
    first_applied: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.effects.clear()
        self.forward_to, self.hang_first, self.redirect_to = None, False, None
        self.release, self.first_applied = threading.Event(), threading.Event()

    def handle(self, req: Recorded, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.calls.append(req)
            first = len(self.calls) == 1
        if self.redirect_to and req.path != "/landed":
            return 307, b"", {"Location": self.redirect_to}
        if self.forward_to:
            sent = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "content-length")}
            r = httpx.request(
                req.method, self.forward_to + req.path, params=req.query, headers=sent, content=raw, timeout=30
            )
            answer = (r.status_code, r.content, {"Content-Type": r.headers.get("content-type", "application/json")})
        else:
            key = req.headers.get("idempotency-key") or str((req.body or {}).get("requestId"))
            with self.lock:
                if key not in self.effects:
                    self.effects[key] = len(self.effects) + 1
                created = self.effects[key]
            answer = (
                201,
                json.dumps({"createdId": created, "warnings": [], "errors": []}).encode(),
                {"Content-Type": "application/json", "X-CAP-REQUEST-ID": f"fake-{created}"},
            )
        if first and self.hang_first:
            self.first_applied.set()
            self.release.wait(120)
            raise ConnectionAbortedError("the caller is gone")
        return answer


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            rec = Recorded(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query, keep_blank_values=True)),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            try:
                status, content, extra = fake.handle(rec, raw)
            except ConnectionAbortedError:
                self.close_connection = True
                return
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = _any

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _fake_server() -> Iterator[FakeServer]:
    fake = FakeServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    server.daemon_threads = True
    fake.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def fresh_fake() -> Iterator[FakeServer]:
    """A fake downstream of the test's own (for tests that start and kill their own servers)."""
    yield from _fake_server()


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeServer]:
    yield from _fake_server()


@pytest.fixture
def fake_downstream(shared_fake: FakeServer) -> FakeServer:
    """The module's fake downstream, emptied for this test."""
    shared_fake.reset()
    return shared_fake


# --- the server ----------------------------------------------------------------------------------------------
@dataclass
class Deployment:
    env: dict[str, str]
    port: int
    tmp: Path
    running: list[procs.Proc] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, name: str = "serve", worker: bool = True) -> procs.Proc:
        proc = procs.api(name, self.env, self.tmp, worker=worker, port=self.port).start()
        self.running.append(proc)
        proc.wait_ready()
        return proc


def _deploy(store: str, tmp: Path, fake: FakeServer, **settings: Any) -> Iterator[Deployment]:
    """Migrated and seeded data (SQLite file or a fresh PostgreSQL database); servers are started by callers."""
    import os

    stores = os.environ.get("FOUREYES_TEST_STORES", "sqlite,postgresql").split(",")
    if store not in stores:
        pytest.skip(f"{store} not in FOUREYES_TEST_STORES")
    dbname = None
    url = None
    if store == "postgresql":
        if not procs.pg_available():
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        dbname = procs.fresh_pg_database("foureyes_e2e")
        url = procs.pg_url(dbname)
    port = procs.free_port()
    env = procs.base_env(tmp, url, public_base_url=f"http://127.0.0.1:{port}", worker_poll_seconds=0.5, **settings)
    deployment = Deployment(env, port, tmp)
    try:
        upgraded = procs.run_cli(env, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        tenant = json.dumps(tenant_file(deployment.base_url, fake.base_url))
        seeded = procs.run_cli(env, "seed", "-", stdin=tenant)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        yield deployment
    finally:
        for proc in deployment.running:
            proc.kill()
        if dbname:
            procs.drop_pg_database(dbname)


STORE_PARAMS = {"params": ["sqlite", "postgresql"], "ids": ["sqlite", "pg"]}


@pytest.fixture(scope="module", **STORE_PARAMS)  # type: ignore[call-overload]
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared_fake: FakeServer
) -> Iterator[Deployment]:
    """One seeded `foureyes serve` (with its worker) per module and store."""
    for deployment in _deploy(request.param, tmp_path_factory.mktemp("e2e"), shared_fake):
        deployment.serve()
        yield deployment


@pytest.fixture(**STORE_PARAMS)  # type: ignore[call-overload]
def store_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
