"""Hostile bodies, unknown routes and unexpected failures all answer the contract's envelope, never a bare 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select

from foureyes.identity.deps import Ctx
from foureyes.identity.models import User
from tests.integration.identity.helpers import assert_error

TOKEN = "/v3/oauth/token/generate"
JSON = {"content-type": "application/json"}

boom = APIRouter(prefix="/_boom")


@boom.get("/crash")
async def crash() -> None:
    raise RuntimeError("db password is hunter2")  # the message must never reach the caller


@boom.get("/lookup")
async def lookup(ctx: Ctx, name: str) -> dict[str, int]:
    """Test-only: a query with caller-supplied text, to prove hostile text never becomes a 500."""
    async with ctx.db.read() as s:
        rows = (await s.scalars(select(User).where(User.username == name))).all()
    return {"count": len(rows)}


workflow_boom = APIRouter()


@workflow_boom.post("/api_gateway/v2/request-workflow/_probe/lookup")
async def workflow_lookup(ctx: Ctx, body: dict[str, str]) -> dict[str, int]:
    async with ctx.db.read() as s:
        rows = (await s.scalars(select(User).where(User.username == body.get("name", "")))).all()
    return {"count": len(rows)}


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that, like a real server, turns an escaped exception into whatever the app sent."""
    app.include_router(boom)
    app.include_router(workflow_boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"key": "a", "secret": "b"',
        b"\xff\xfe\x00",
        b"not json at all",
        b"",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"key": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"key": "a", "secret": "b"}' + b"x",
    ],
    ids=["open-brace", "truncated", "binary", "text", "empty", "deep-array", "deep-value", "trailing"],
)
async def test_malformed_json(raw: httpx.AsyncClient, body: bytes) -> None:
    assert_error(await raw.post(TOKEN, content=body, headers=JSON), 400, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"key": 1, "secret": 2},
        {"key": ["a"], "secret": {"b": 1}},
        {"key": None, "secret": None},
        {"key": "a" * 201, "secret": "b"},
        [],
        None,
        "a string",
        12,
    ],
)
async def test_wrong_types(raw: httpx.AsyncClient, body: object) -> None:
    assert_error(await raw.post(TOKEN, content=json.dumps(body).encode(), headers=JSON), 400, 400)


async def test_every_problem_is_listed(raw: httpx.AsyncClient) -> None:
    body = assert_error(await raw.post(TOKEN, json={}), 400, 400)
    assert sorted(e["reference"] for e in body["errors"]) == ["key", "secret"]


async def test_oversized_body_with_content_length(raw: httpx.AsyncClient, app: FastAPI) -> None:
    limit = app.state.ctx.settings.max_body_bytes
    body = json.dumps({"key": "a", "secret": "x" * limit}).encode()
    response = await raw.post(TOKEN, content=body, headers=JSON)
    assert_error(response, 413, 2008)
    assert str(limit) in response.json()["errors"][0]["message"]


async def test_oversized_chunked_body(raw: httpx.AsyncClient, app: FastAPI) -> None:
    limit = app.state.ctx.settings.max_body_bytes
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 65536 + 4):
            sent.append(1)
            yield b"x" * 65536

    response = await raw.post(TOKEN, content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, 2008)


async def test_body_at_the_limit_is_parsed(raw: httpx.AsyncClient, app: FastAPI) -> None:
    limit = app.state.ctx.settings.max_body_bytes
    body = b'{"key":"a","secret":"b"}'
    body = body[:-1] + b" " * (limit - len(body)) + b"}"
    assert len(body) == limit
    assert_error(await raw.post(TOKEN, content=body, headers=JSON), 401, 2013)


async def test_unknown_route(raw: httpx.AsyncClient) -> None:
    assert_error(await raw.get("/no/such/route"), 404, 404)
    assert_error(await raw.post("/no/such/route", json={}), 404, 404)
    assert_error(await raw.get("/api_gateway/v2/request-workflow/no/such/thing/here"), 404, 2007)


async def test_wrong_method(raw: httpx.AsyncClient) -> None:
    assert_error(await raw.get(TOKEN), 405, 405)
    assert_error(await raw.delete("/healthz"), 405, 405)


async def test_unexpected_exception_is_an_opaque_500_envelope(raw: httpx.AsyncClient) -> None:
    response = await raw.get("/_boom/crash")
    assert_error(response, 500, 500)
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert response.headers.get("x-request-id")


@pytest.mark.parametrize("name", ["nul\x00byte", "x" * 5000, "émoji 🙂", "' OR 1=1 --"])
async def test_hostile_text_reaching_the_database(raw: httpx.AsyncClient, name: str) -> None:
    response = await raw.get("/_boom/lookup", params={"name": name})
    if "\x00" in name and response.status_code != 200:
        # PostgreSQL cannot hold NUL in text: a payload error, not a server fault (SQLite just finds nothing).
        assert_error(response, 400, 400)
    else:
        assert response.status_code == 200 and response.json() == {"count": 0}


async def test_nul_on_a_workflow_path_uses_the_workflow_code(raw: httpx.AsyncClient, store: str) -> None:
    response = await raw.post("/api_gateway/v2/request-workflow/_probe/lookup", json={"name": "a\x00b"})
    if store == "postgresql":
        assert_error(response, 400, 2008)
    else:
        assert response.json() == {"count": 0}
