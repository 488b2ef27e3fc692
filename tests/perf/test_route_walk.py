"""The busiest requests find their route early in FastAPI's walk of the included routers.

FastAPI (since 0.137) keeps each included router as a node and matches a request by walking the nodes in the
order they were included, checking every route of each, and again inside the chosen router to dispatch: a
route behind 30 others paid ~1,200 Python calls to be found. The app includes its routers busiest
first (foureyes.app), and these tests count the route checks a request makes: a router included ahead of the
hot ones, or the badges sub-routers nested again behind one combining router, fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest

from foureyes.app import create_app
from foureyes.core.context import AppContext
from tests.conftest import base_settings

WF = "/api_gateway/v2/request-workflow"
EARN = "/api_gateway/v1/badges/customer/earn"
# API-route checks measured when the routers were ordered (the walk is deterministic): create 12, approval 14,
# list 2, get 4, earn 9 (the seven workflow routes once, then the earn route, found again on dispatch). Before:
# 17, 19, 7, 9 and 39 (an earn walked ops, identity, the workflows and the badge definitions, twice nested).
BUDGETS = [
    ("POST", f"{WF}/EARN-BADGE", 12),
    ("PUT", f"{WF}/EARN-BADGE", 14),
    ("GET", f"{WF}/requests", 2),
    ("GET", f"{WF}/requests/abc", 4),
    ("POST", EARN, 9),
]


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    ctx = AppContext.build(base_settings(tmp_path, None))
    app = create_app(ctx.settings, ctx=ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client
    await ctx.close()


@pytest.fixture
def route_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts FastAPI's checks of an API route against a request (each reads the request's route path once)."""
    checked: list[str] = []
    real: Callable[[Any], str] = fastapi.routing.get_route_path

    def counting(scope: Any) -> str:
        path = real(scope)
        checked.append(path)
        return path

    monkeypatch.setattr(fastapi.routing, "get_route_path", counting)
    return checked


@pytest.mark.parametrize(("method", "path", "budget"), BUDGETS)
async def test_hot_requests_find_their_route_early(
    app_client: httpx.AsyncClient, route_checks: list[str], method: str, path: str, budget: int
) -> None:
    # Unauthenticated: the route is found (and its dependencies answer 401) before anything reads the store.
    r = await app_client.request(method, path, json={})
    assert r.status_code == 401, r.text
    assert route_checks, "the counter saw no route check: FastAPI no longer matches through get_route_path"
    assert len(route_checks) <= budget, f"{method} {path} checked {len(route_checks)} routes (budget {budget})"


async def test_walk_order_is_the_documented_one(app_client: httpx.AsyncClient) -> None:
    """OpenAPI lists paths in the walk's order: the request workflow first, then the badge earn."""
    paths = list((await app_client.get("/openapi.json")).json()["paths"])
    workflow = [p for p in paths if p.startswith(WF)]
    assert paths[: len(workflow)] == workflow
    assert paths[len(workflow)] == EARN
