"""The process's outbound clients keep no cookies: one org's call must not carry what a downstream set on another's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from foureyes.core.context import AppContext
from foureyes.core.security import no_cookies
from foureyes.webhooks.delivery import new_client
from tests.conftest import base_settings

DOWNSTREAM = "https://crm-nightly-new.cc.capillarytech.com/api_gateway/v1/badges/customer/earn"


@pytest.fixture
async def downstream(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    ctx = AppContext.build(base_settings(tmp_path, None))
    try:
        yield ctx.downstream
    finally:
        await ctx.close()


async def _second_call_cookie(client: httpx.AsyncClient) -> str | None:
    """What the client sends on its next call after a downstream answered with Set-Cookie (as httpx does after
    every response: `cookies.extract_cookies`)."""
    request = client.build_request("POST", DOWNSTREAM, json={"customerId": 1})
    answer = httpx.Response(200, headers={"Set-Cookie": "sid=org-100-session; Path=/; Secure"}, request=request)
    client.cookies.extract_cookies(answer)
    return client.build_request("POST", DOWNSTREAM, json={"customerId": 2}).headers.get("cookie")


async def test_the_downstream_client_keeps_no_cookie(downstream: httpx.AsyncClient) -> None:
    assert await _second_call_cookie(downstream) is None
    assert len(downstream.cookies.jar) == 0


async def test_the_webhook_client_keeps_no_cookie() -> None:
    async with new_client() as client:
        assert await _second_call_cookie(client) is None


async def test_a_default_client_would_have_carried_it() -> None:
    """The check above can fail: httpx's own default keeps the cookie for the host's next call."""
    async with httpx.AsyncClient() as client:
        assert await _second_call_cookie(client) == "sid=org-100-session"
    async with httpx.AsyncClient(cookies=no_cookies()) as client:
        assert await _second_call_cookie(client) is None


async def test_an_end_to_end_call_through_a_mock_transport_sends_no_cookie() -> None:
    seen: list[str | None] = []

    def downstream_app(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "sid=org-100-session; Path=/"}, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(downstream_app), cookies=no_cookies()) as client:
        for _ in range(2):
            await client.post(DOWNSTREAM, json={})
    assert seen == [None, None]
