"""The principal cache end to end, on both stores: repeated callers cost no SQL, and identity changes made in this
process apply at once (grants, passwords, deactivation, lock-out); changes it cannot see apply within the TTL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update

from foureyes.app import create_app
from foureyes.core.context import AppContext
from foureyes.core.settings import Settings
from foureyes.identity.auth import OAUTH_AUDIENCE, UI_AUDIENCE
from foureyes.identity.models import ApiClient, User
from foureyes.identity.service import GrantSpec, IdentityService
from foureyes.tenants.apply import apply_tenant_file
from tests.conftest import base_settings
from tests.factories import PASSWORD, Tenant, basic, make_tenant
from tests.integration.identity.helpers import assert_error, mount_probe
from tests.integration.tenants.helpers import small
from tests.perf.counting import count_statements

UI = "X-CAP-UI-AUTH-TOKEN"
OAUTH = "X-CAP-API-OAUTH-TOKEN"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def tenant(ctx: AppContext, app: FastAPI) -> Tenant:
    mount_probe(app)
    t = await make_tenant(ctx, 100)
    await t.user("maker@demo.test", "CanMakeRequest", "BadgesRead")
    await t.user("till1", "BadgesRead", kind="till")
    await IdentityService(ctx.db).create_client(100, "key-100", "secret-100", "integration", [GrantSpec("BadgesRead")])
    return t


@pytest.fixture
def clock(ctx: AppContext) -> FakeClock:
    fake = FakeClock()
    ctx.auth.principals.clock = fake
    return fake


async def whoami_statements(ctx: AppContext, client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    with count_statements(ctx) as found:
        r = await client.get("/_probe/whoami", headers=headers)
    assert r.status_code == 200, r.text
    return found.count


async def oauth_token(client: httpx.AsyncClient) -> str:
    r = await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": "secret-100"})
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["accessToken"])


async def ui_token(client: httpx.AsyncClient, username: str) -> str:
    r = await client.post("/api_gateway/v2/auth/ui-token", headers=basic(username))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["accessToken"])


# --- no SQL for a repeated caller ----------------------------------------------------------------------------


async def test_a_repeated_basic_caller_costs_no_statements(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    headers = basic("maker@demo.test")
    assert await whoami_statements(ctx, client, headers) > 0
    for _ in range(3):
        assert await whoami_statements(ctx, client, headers) == 0
    # The md5 form is another header, so another entry: it pays once too.
    assert await whoami_statements(ctx, client, basic("maker@demo.test", md5=True)) > 0


async def test_repeated_token_callers_cost_no_statements(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    oauth, ui = {OAUTH: await oauth_token(client)}, {UI: await ui_token(client, "maker@demo.test")}
    for headers, via in ((oauth, "oauth"), (ui, "ui-token")):
        assert await whoami_statements(ctx, client, headers) > 0  # the principal and its grants
        assert await whoami_statements(ctx, client, headers) == 0
        assert (await client.get("/_probe/whoami", headers=headers)).json()["via"] == via
    # A fresh token of the same subject reuses the entry; the signature is still checked on every call.
    assert await whoami_statements(ctx, client, {OAUTH: await oauth_token(client)}) == 0
    tampered = oauth[OAUTH][:-4] + ("AAAA" if not oauth[OAUTH].endswith("AAAA") else "BBBB")
    assert_error(await client.get("/_probe/whoami", headers={OAUTH: tampered}), 401, 2013)


async def test_with_the_cache_off_every_call_reads_again(
    ctx: AppContext, tenant: Tenant, tmp_path: Path, settings: Settings
) -> None:
    off = base_settings(tmp_path, settings.database_url, principal_cache_seconds=0)
    other = AppContext.build(off)
    app = create_app(off, ctx=other)
    mount_probe(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            headers = basic("maker@demo.test")
            await whoami_statements(other, c, headers)  # the Argon2 verification
            # user, lock-out row and grants every time (plus BEGIN on SQLite)
            counts = [await whoami_statements(other, c, headers) for _ in range(3)]
            assert counts[0] >= 3 and counts == counts[:1] * 3, counts
            token = {OAUTH: await oauth_token(c)}
            counts = [await whoami_statements(other, c, token) for _ in range(2)]
            assert counts[0] >= 2 and counts[0] == counts[1], counts
        assert len(other.auth.principals) == 0
    finally:
        await other.close()


async def test_an_entry_expires_after_the_ttl(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    headers = basic("maker@demo.test")
    await whoami_statements(ctx, client, headers)
    clock.now += ctx.settings.principal_cache_seconds - 0.01
    assert await whoami_statements(ctx, client, headers) == 0
    clock.now += 0.01
    with count_statements(ctx) as found:
        assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    assert any("FROM users" in s for s in found.sql) and any("login_throttle" in s for s in found.sql), str(found)
    assert await whoami_statements(ctx, client, headers) == 0  # and it is cached again


# --- changes made in this process apply at once ----------------------------------------------------------------


async def test_a_wrong_password_is_never_served_from_the_cache(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    await whoami_statements(ctx, client, basic("maker@demo.test"))
    for wrong in ("nope", PASSWORD + " ", ""):
        with count_statements(ctx) as found:
            assert_error(await client.get("/_probe/whoami", headers=basic("maker@demo.test", wrong)), 401, 2013)
        assert any("login_throttle" in s for s in found.sql), "a failure must still be counted"


async def test_a_lock_out_applies_at_once_to_cached_credentials(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    headers = basic("maker@demo.test")
    await whoami_statements(ctx, client, headers)
    assert await whoami_statements(ctx, client, headers) == 0
    for _ in range(ctx.settings.login_max_failures):
        assert_error(await client.get("/_probe/whoami", headers=basic("maker@demo.test", "guess")), 401, 2013)
    body = assert_error(await client.get("/_probe/whoami", headers=headers), 401, 2013)
    assert "locked" in body["errors"][0]["message"]


async def test_a_failure_makes_the_next_success_read_and_reset_the_count(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    headers = basic("till1")
    await whoami_statements(ctx, client, headers)
    for _round in range(3):  # without the eviction the cached successes would not reset and round 2 would lock
        for _ in range(ctx.settings.login_max_failures - 1):
            await client.get("/_probe/whoami", headers=basic("till1", "guess"))
        assert await whoami_statements(ctx, client, headers) > 0  # read (and reset) the lock-out row
        assert await whoami_statements(ctx, client, headers) == 0


async def test_revoked_grants_and_changed_passwords_apply_at_once(
    ctx: AppContext, client: httpx.AsyncClient, app: FastAPI, clock: FakeClock
) -> None:
    mount_probe(app)
    await apply_tenant_file(ctx, small())
    till, maker = basic("till7", "pw-till"), basic("maker7", "pw-maker")
    assert (await client.get("/_probe/api", headers=till)).status_code == 200
    assert (await client.get("/_probe/whoami", headers=maker)).status_code == 200
    assert await whoami_statements(ctx, client, till) == 0
    changed = small()
    changed["orgs"][0]["users"][0]["password"] = "a-new-password"
    changed["orgs"][0]["users"][1]["permissions"] = [{"name": "BadgesWrite", "unit": "t1"}]
    await apply_tenant_file(ctx, changed)
    assert_error(await client.get("/_probe/api", headers=till), 403, 2001)
    assert (await client.get("/_probe/whoami", headers=till)).json()["grants"] == [["BadgesWrite", "/c1/z1/s1/t1/"]]
    assert_error(await client.get("/_probe/whoami", headers=maker), 401, 2013)
    assert (await client.get("/_probe/whoami", headers=basic("maker7", "a-new-password"))).status_code == 200


async def test_a_password_change_alone_applies_at_once(
    ctx: AppContext, client: httpx.AsyncClient, app: FastAPI, clock: FakeClock
) -> None:
    """A change the ORM flushes (no bulk statement) is seen too."""
    mount_probe(app)
    await apply_tenant_file(ctx, small())
    maker = basic("maker7", "pw-maker")
    await whoami_statements(ctx, client, maker)
    assert await whoami_statements(ctx, client, maker) == 0
    changed = small()
    changed["orgs"][0]["users"][0]["password"] = "a-new-password"
    summary = await apply_tenant_file(ctx, changed)
    assert summary["orgs"][0]["users"][0]["changed"] == ["password"]
    assert_error(await client.get("/_probe/whoami", headers=maker), 401, 2013)


async def test_a_dry_run_keeps_the_cache(
    ctx: AppContext, client: httpx.AsyncClient, app: FastAPI, clock: FakeClock
) -> None:
    mount_probe(app)
    await apply_tenant_file(ctx, small())
    till = basic("till7", "pw-till")
    await whoami_statements(ctx, client, till)
    changed = small()
    changed["orgs"][0]["users"][1]["permissions"] = []
    await apply_tenant_file(ctx, changed, dry_run=True)  # rolled back: nothing changed, nothing to forget
    assert await whoami_statements(ctx, client, till) == 0


async def test_deactivation_applies_at_once_to_every_credential(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    headers, oauth = basic("maker@demo.test"), {OAUTH: await oauth_token(client)}
    ui = {UI: await ui_token(client, "maker@demo.test")}
    for h in (headers, oauth, ui):
        await whoami_statements(ctx, client, h)
        assert await whoami_statements(ctx, client, h) == 0
    async with ctx.db.write() as s:  # any ORM write to an identity table in this process counts
        await s.execute(update(User).where(User.username == "maker@demo.test").values(active=False))
        await s.execute(update(ApiClient).where(ApiClient.key == "key-100").values(active=False))
    for h in (headers, oauth, ui):
        assert_error(await client.get("/_probe/whoami", headers=h), 401, 2013)


async def test_a_new_grant_applies_at_once(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    from foureyes.identity.repository import IdentityRepository
    from foureyes.identity.service import replace_grants

    headers = basic("till1")
    await whoami_statements(ctx, client, headers)
    async with ctx.db.write() as s:
        await replace_grants(IdentityRepository(s), 100, "user", tenant.users["till1"], [GrantSpec("BadgesWrite")])
    assert (await client.get("/_probe/whoami", headers=headers)).json()["grants"] == [["BadgesWrite", "*"]]


async def test_a_write_this_process_cannot_see_applies_within_the_ttl(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    """Another node, a `foureyes seed` process or hand-written SQL: the documented bounded staleness."""
    headers = basic("maker@demo.test")
    await whoami_statements(ctx, client, headers)
    async with ctx.db.write() as s:
        await s.execute(text("UPDATE users SET active = :off WHERE username = 'maker@demo.test'"), {"off": False})
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    clock.now += ctx.settings.principal_cache_seconds
    assert_error(await client.get("/_probe/whoami", headers=headers), 401, 2013)


# --- tenants never mix ------------------------------------------------------------------------------------------


async def test_entries_never_cross_orgs(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock
) -> None:
    other = await make_tenant(ctx, 200, "Other Retail")
    await other.user("till200", "BadgesWrite", kind="till")
    their_checker = await other.user("checker200", "CanCheckRequest")
    ours, theirs = basic("till1"), basic("till200")
    for _ in range(2):
        assert (await client.get("/_probe/whoami", headers=ours)).json()["org"] == 100
        assert (await client.get("/_probe/whoami", headers=theirs)).json()["org"] == 200
    # A genuinely signed token naming our client in the other org never reaches our client's cached entry.
    oauth = {OAUTH: await oauth_token(client)}
    assert (await client.get("/_probe/whoami", headers=oauth)).json()["org"] == 100
    client_id = int((await client.get("/_probe/whoami", headers=oauth)).json()["actor"].split(":")[1])
    foreign = ctx.tokens.issue(subject=f"client:{client_id}", org_id=200, audience=OAUTH_AUDIENCE, ttl_seconds=600)
    assert_error(await client.get("/_probe/whoami", headers={OAUTH: foreign}), 401, 2013)
    # Their user's UI token beside our cached Basic credentials is still refused (different orgs).
    their_ui = {UI: ctx.tokens.issue(subject=f"user:{their_checker}", org_id=200, audience=UI_AUDIENCE, ttl_seconds=60)}
    assert (await client.get("/_probe/whoami", headers=their_ui)).json()["org"] == 200
    assert_error(await client.get("/_probe/whoami", headers={**ours, **their_ui}), 401, 2013)


async def test_a_busy_clients_password_check_is_renewed_off_the_request_path(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock, argon2_calls: list[str]
) -> None:
    """A client that keeps calling never waits for Argon2 once verified: in the last quarter of the cached
    verification's life a request renews it in the background (core/security.py VerificationCache)."""
    calls = argon2_calls
    ctx.auth.cache.clock = clock
    headers, ttl = basic("maker@demo.test"), ctx.settings.basic_auth_cache_seconds
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    assert len(calls) == 1
    clock.now += ttl * 0.8  # past the principal cache, in the verification's last quarter
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    for _ in range(500):  # the renewal runs in the Argon2 pool, after the answer
        if len(calls) == 2 and not ctx.auth.cache._running:
            break
        await asyncio.sleep(0.01)
    assert len(calls) == 2, "no renewal in the background"
    clock.now += ttl * 0.3  # the first verification has run out; the renewed one holds
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    assert len(calls) == 2
