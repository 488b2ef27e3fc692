"""Operational endpoints, readiness against a dead database, metrics, and what the request log says."""

from __future__ import annotations

import base64
import logging
import socket
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from foureyes.app import create_app
from foureyes.core.context import AppContext
from tests.conftest import base_settings
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.integration.identity.helpers import assert_error, mount_probe


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


async def test_healthz_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok"}


async def test_readyz_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/foureyes"
    ctx = AppContext.build(base_settings(tmp_path, url))
    app = create_app(ctx.settings, ctx=ctx)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/healthz")).status_code == 200  # the process itself is fine
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
            # A route that needs the database answers 503 with the envelope, not a 500.
            token = await c.post("/v3/oauth/token/generate", json={"key": "k", "secret": "s"})
            assert_error(token, 503, 503)
            basic = "Basic " + base64.b64encode(b"u:p").decode()
            assert_error(await c.post("/api_gateway/v2/auth/ui-token", headers={"Authorization": basic}), 503, 503)
    finally:
        await ctx.close()


async def test_metrics(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/route")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'foureyes_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    # Unknown paths share one label, so scanners cannot blow up the series count.
    assert 'foureyes_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "foureyes_http_request_seconds_bucket" in text


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/v3/oauth/token/generate" in paths and "/api_gateway/v2/auth/ui-token" in paths
    assert paths["/v3/oauth/token/generate"]["post"]["description"]  # route docstrings become the docs
    # Generated clients name methods by operationId: two operations with one id break them.
    ids = [op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


@pytest.fixture
async def tenant(ctx: AppContext, app: FastAPI) -> Tenant:
    mount_probe(app)
    t = await make_tenant(ctx, 100)
    await t.user("maker@demo.test", "CanMakeRequest", "BadgesRead")
    return t


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.msg for r in caplog.records if r.name == "foureyes.http" and isinstance(r.msg, dict)]


async def test_request_log_line(client: httpx.AsyncClient, tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    headers = tenant.headers("maker@demo.test")
    response = await client.post("/_probe/workflow", headers=headers)
    assert response.status_code == 200
    lines = _request_lines(caplog)
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["org"] == 100
    assert line["actor"] == f"user:{tenant.users['maker@demo.test']}"
    assert line["status"] == 200 and line["path"] == "/_probe/workflow"


async def test_incoming_request_id_is_kept(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = await client.get("/no/such/route", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert _request_lines(caplog)[0]["request_id"] == "abc-123"
    hostile = await client.get("/no/such/route", headers={"X-Request-Id": "a b\nforged=1"})
    assert hostile.headers["x-request-id"] != "a b\nforged=1"


async def test_credentials_never_reach_the_logs(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = tenant.headers("maker@demo.test")
    bad = {"Authorization": "Basic " + base64.b64encode(b"maker@demo.test:wrong-guess-42").decode()}
    ui = (await client.post("/api_gateway/v2/auth/ui-token", headers=good)).json()["data"]["accessToken"]
    await client.post("/_probe/workflow", headers=good)
    await client.post("/_probe/workflow", headers={**bad, "X-CAP-API-AUTH-ORG-ID": "100"})
    await client.post("/_probe/workflow", headers={"X-CAP-UI-AUTH-TOKEN": ui, "X-CAP-API-AUTH-ORG-ID": "100"})
    await client.post("/v3/oauth/token/generate", json={"key": "k", "secret": "client-secret-77"})
    logged = "\n".join(f"{r.getMessage()} {r.msg!r}" for r in caplog.records)
    assert len(_request_lines(caplog)) == 5
    for secret in (good["Authorization"], bad["Authorization"].split()[1], PASSWORD, "wrong-guess-42", ui):
        assert secret not in logged
    assert "client-secret-77" not in logged


def test_the_masking_processor_hides_credential_fields() -> None:
    from foureyes.core.logging import _mask_secrets

    event = _mask_secrets(
        None,
        "info",
        {
            "event": "outbound",
            "authorization": "Basic dXNlcjpwYXNz",
            "headers": {"X-CAP-API-OAUTH-TOKEN": "eyJ.a.b", "Accept": "*/*"},
            "client_secret": "abc",
        },
    )
    assert event["authorization"] == "Basic ****"
    assert event["headers"] == {"X-CAP-API-OAUTH-TOKEN": "****", "Accept": "*/*"}
    assert event["client_secret"] == "****"
