"""A test-only router guarded by the real dependencies, and envelope assertions."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, FastAPI

from foureyes.identity.deps import ApiCaller, Caller, WorkflowCaller, require
from foureyes.identity.principal import Principal

probe = APIRouter(prefix="/_probe")


def _who(p: Principal) -> dict[str, Any]:
    return {
        "actor": p.actor,
        "org": p.org_id,
        "name": p.name,
        "via": p.via,
        "grants": sorted([g.permission, g.unit_path or "*"] for g in p.grants),
    }


@probe.get("/whoami")
async def whoami(caller: Caller) -> dict[str, Any]:
    return _who(caller)


@probe.post("/workflow")
async def workflow(caller: WorkflowCaller) -> dict[str, Any]:
    require(caller, "CanMakeRequest")
    return _who(caller)


@probe.get("/api")
async def api(caller: ApiCaller) -> dict[str, Any]:
    require(caller, "BadgesRead")
    return _who(caller)


def mount_probe(app: FastAPI) -> None:
    if not any(getattr(r, "path", "").startswith("/_probe") for r in app.routes):
        app.include_router(probe)


def assert_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """The contract's error envelope with this status and (first) code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"data", "errors", "warnings"}, body
    assert body["data"] is None and body["warnings"] == []
    assert body["errors"] and body["errors"][0]["code"] == code, body
    assert all(set(e) == {"code", "message", "reference"} and e["message"] for e in body["errors"])
    return body
