"""Failed logins arriving together: every one counts, none becomes a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from foureyes.core.context import AppContext
from tests.factories import basic, make_tenant
from tests.integration.identity.helpers import mount_probe


@pytest.mark.parametrize("username", ["maker@demo.test", "nobody@demo.test"])
async def test_concurrent_failures(client: httpx.AsyncClient, ctx: AppContext, app: FastAPI, username: str) -> None:
    mount_probe(app)
    tenant = await make_tenant(ctx, 100)
    await tenant.user("maker@demo.test", "CanMakeRequest")
    limit = ctx.settings.login_max_failures
    answers = await asyncio.gather(
        *(client.get("/_probe/whoami", headers=basic(username, f"guess-{i}")) for i in range(limit))
    )
    assert sorted({a.status_code for a in answers}) == [401], [a.text for a in answers if a.status_code != 401]
    # All `limit` failures were counted: the account is locked now, right password or not.
    locked = await client.get("/_probe/whoami", headers=basic(username))
    assert locked.status_code == 401 and "locked" in locked.json()["errors"][0]["message"]
