"""A seeded foureyes served by uvicorn in a thread on 127.0.0.1 (one event loop for the whole module)."""

from __future__ import annotations

import base64
import json
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from foureyes.app import create_app
from foureyes.core.settings import Settings
from tests.cluster import procs
from tests.cluster.tenant import UNITS

ORG, OTHER_ORG = 8101, 8102
ROOT = ("root@hostile.test", "root-pass-1")
OTHER_ROOT = ("root@other.test", "root-pass-2")
PERMISSIONS = ("CanMakeRequest", "CanCheckRequest", "CanConfigureWorkflows", "BadgesRead", "BadgesWrite",
               "CustomersWrite")  # fmt: skip


def basic(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def tenant_file() -> dict[str, Any]:
    concept, zone, store, till = UNITS

    def org(org_id: int, name: str, root: tuple[str, str]) -> dict[str, Any]:
        return {
            "id": org_id,
            "name": name,
            "units": [{"kind": "concept", "id": concept, "name": "C", "children": [
                {"kind": "zone", "id": zone, "name": "Z", "children": [
                    {"kind": "store", "id": store, "name": "S", "children": [
                        {"kind": "till", "id": till, "name": "T"}]}]}]}],
            "users": [{"username": root[0], "password": root[1], "kind": "intouch",
                       "permissions": [{"name": p, "unit": None} for p in PERMISSIONS]}],
            "clients": [{"key": f"client-{org_id}", "secret": "client-secret-1", "name": "fuzz",
                         "permissions": [{"name": n, "unit": None} for n in ("BadgesRead", "CanMakeRequest")]}],
            "customers": [{"id": 1, "mobile": f"91999{org_id}01", "email": f"one@{org_id}.test"}],
            "workflows": {"GOODWILL-POINTS": {"allowedHosts": ["https://crm-nightly-new.cc.capillarytech.com"]}},
        }  # fmt: skip

    return {"orgs": [org(ORG, "Hostile A", ROOT), org(OTHER_ORG, "Hostile B", OTHER_ROOT)]}


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "secret_key": "hostile-test-secret-key-not-for-production",
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "log_level": "WARNING",
        "decision_wait_seconds": 2,
        "downstream_timeout_seconds": 1,
    }
    values.update(extra)
    return Settings(**values)


@dataclass
class Live:
    base_url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    def headers(self, org: int = ORG, **extra: str) -> dict[str, str]:
        user = ROOT if org == ORG else OTHER_ROOT
        return {"Authorization": basic(user), "X-CAP-API-AUTH-ORG-ID": str(org), **extra}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


def start(**extra: Any) -> Live:
    data_dir = Path(tempfile.mkdtemp(prefix="foureyes-hostile-"))
    env = procs.base_env(data_dir, None, **extra)
    env["FOUREYES_SECRET_KEY"] = "hostile-test-secret-key-not-for-production"
    assert procs.run_cli(env, "db", "upgrade").returncode == 0
    seeded = procs.run_cli(env, "seed", "-", stdin=json.dumps(tenant_file()))
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    settings = settings_for(data_dir, **extra)
    port = procs.free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    live = Live(f"http://127.0.0.1:{port}", settings, server, thread)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{live.base_url}/readyz", timeout=2).status_code == 200:
                return live
        except httpx.HTTPError:
            time.sleep(0.1)
    live.stop()
    raise AssertionError("the hostile-test server did not start")


def openapi_document() -> dict[str, Any]:
    app = create_app(settings_for(Path(tempfile.mkdtemp(prefix="foureyes-schema-"))))
    return app.openapi()
