"""Every authentication path of contract §3, end to end, on both stores."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from fastapi import FastAPI

from foureyes.core.context import AppContext
from foureyes.core.security import TokenService, md5_hex
from foureyes.identity.auth import OAUTH_AUDIENCE, UI_AUDIENCE
from foureyes.identity.service import GrantSpec, IdentityService
from tests.factories import PASSWORD, ZONE, Tenant, basic, make_tenant
from tests.integration.identity.helpers import assert_error, mount_probe

ORG = "X-CAP-API-AUTH-ORG-ID"
UI = "X-CAP-UI-AUTH-TOKEN"
OAUTH = "X-CAP-API-OAUTH-TOKEN"


@pytest.fixture
async def tenant(ctx: AppContext, app: FastAPI) -> Tenant:
    mount_probe(app)
    t = await make_tenant(ctx, 100)
    await t.user("maker@demo.test", "CanMakeRequest", "BadgesRead")
    await t.user("zone-checker@demo.test", f"CanCheckRequest@{ZONE}")
    await t.user("till1", "BadgesRead", kind="till")
    await IdentityService(ctx.db).create_client(100, "key-100", "secret-100", "integration", [GrantSpec("BadgesRead")])
    return t


async def ui_token(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/api_gateway/v2/auth/ui-token", headers=basic(username))
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["accessToken"])


# --- OAuth ------------------------------------------------------------------------------------------------


async def test_oauth_token_round_trip(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    response = await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": "secret-100"})
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] is None
    assert body["data"]["ttlSeconds"] == ctx.settings.oauth_token_ttl_seconds
    token = body["data"]["accessToken"]
    who = await client.get("/_probe/api", headers={OAUTH: token})
    assert who.status_code == 200, who.text
    assert who.json()["actor"].startswith("client:") and who.json()["via"] == "oauth"
    assert who.json()["org"] == 100


async def test_oauth_accepts_the_md5_form_of_the_secret(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": md5_hex("secret-100")})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"key": "key-100", "secret": "wrong"}, {"key": "no-such-key", "secret": "secret-100"}],
)
async def test_oauth_bad_credentials(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, str]) -> None:
    assert_error(await client.post("/v3/oauth/token/generate", json=body), 401, 2013)


@pytest.mark.parametrize("body", [{}, {"key": "key-100"}, {"key": 5, "secret": []}, {"key": "", "secret": ""}])
async def test_oauth_malformed_body(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object]) -> None:
    assert_error(await client.post("/v3/oauth/token/generate", json=body), 400, 400)


# --- Basic and the UI-token endpoint -----------------------------------------------------------------------


@pytest.mark.parametrize("md5", [False, True], ids=["password", "md5hex"])
async def test_ui_token_with_basic(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, md5: bool) -> None:
    response = await client.post("/api_gateway/v2/auth/ui-token", headers=basic("maker@demo.test", md5=md5))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["ttlSeconds"] == ctx.settings.ui_token_ttl_seconds
    claims = ctx.tokens.verify(data["accessToken"], audience=UI_AUDIENCE)
    assert claims is not None and claims.subject == f"user:{tenant.users['maker@demo.test']}" and claims.org_id == 100


async def test_ui_token_refused_for_till_users(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert_error(await client.post("/api_gateway/v2/auth/ui-token", headers=basic("till1")), 403, 2001)


async def test_ui_token_refused_for_api_clients(client: httpx.AsyncClient, tenant: Tenant) -> None:
    token = (await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": "secret-100"})).json()
    response = await client.post("/api_gateway/v2/auth/ui-token", headers={OAUTH: token["data"]["accessToken"]})
    assert_error(response, 403, 2001)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("maker@demo.test", "wrong"),
        basic("nobody"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer abc"},
        {"Authorization": ""},
    ],
    ids=["none", "wrong-password", "unknown-user", "bad-base64", "no-colon", "bearer", "empty"],
)
async def test_ui_token_bad_basic(client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str]) -> None:
    body = assert_error(await client.post("/api_gateway/v2/auth/ui-token", headers=headers), 401, 2013)
    assert "s3cret" not in json.dumps(body)


async def test_basic_with_the_md5_hex_works_on_api_routes(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/_probe/api", headers=basic("till1", md5=True))
    assert response.status_code == 200
    assert response.json()["via"] == "basic"


# --- X-CAP-UI-AUTH-TOKEN ----------------------------------------------------------------------------------


async def test_ui_token_names_the_acting_user(client: httpx.AsyncClient, tenant: Tenant) -> None:
    token = await ui_token(client, "maker@demo.test")
    alone = await client.post("/_probe/workflow", headers={UI: token, ORG: "100"})
    assert alone.status_code == 200, alone.text
    assert alone.json()["actor"] == f"user:{tenant.users['maker@demo.test']}"
    assert alone.json()["via"] == "ui-token"
    # With the till's Basic credentials as well, the UI token still names who acts.
    both = await client.post("/_probe/workflow", headers={**tenant.headers("till1"), UI: token})
    assert both.status_code == 200
    assert both.json()["actor"] == f"user:{tenant.users['maker@demo.test']}"


async def test_empty_ui_token_header_is_ignored(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for empty in ("", "   "):
        response = await client.post("/_probe/workflow", headers={**tenant.headers("maker@demo.test"), UI: empty})
        assert response.status_code == 200, response.text
        assert response.json()["via"] == "basic"
    assert_error(await client.post("/_probe/workflow", headers={UI: "", ORG: "100"}), 401, 2013)


def _forged(ctx: AppContext, user_id: int) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": f"user:{user_id}",
        "org": 100,
        "aud": UI_AUDIENCE,
        "iss": ctx.settings.jwt_issuer,
        "iat": now,
        "exp": now + 600,
        "jti": "x",
    }
    seg = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return {
        "other-key": TokenService("not-our-secret", ctx.settings.jwt_issuer).issue(
            subject=f"user:{user_id}", org_id=100, audience=UI_AUDIENCE, ttl_seconds=600
        ),
        "alg-none": f"{seg({'alg': 'none', 'typ': 'JWT'})}.{seg(claims)}.",
        "hs512": jwt.encode(claims, ctx.tokens._key, algorithm="HS512"),
        "expired": ctx.tokens.issue(subject=f"user:{user_id}", org_id=100, audience=UI_AUDIENCE, ttl_seconds=-60),
        "other-org": ctx.tokens.issue(subject=f"user:{user_id}", org_id=200, audience=UI_AUDIENCE, ttl_seconds=600),
        "no-such-user": ctx.tokens.issue(subject="user:999999", org_id=100, audience=UI_AUDIENCE, ttl_seconds=600),
        "client-subject": ctx.tokens.issue(subject="client:1", org_id=100, audience=UI_AUDIENCE, ttl_seconds=600),
        "garbage": "not.a.jwt",
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "kind",
    ["other-key", "alg-none", "hs512", "expired", "other-org", "no-such-user", "client-subject", "garbage"],
)
async def test_bad_ui_tokens(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, kind: str) -> None:
    token = _forged(ctx, tenant.users["maker@demo.test"])[kind]
    assert_error(await client.post("/_probe/workflow", headers={UI: token, ORG: "100"}), 401, 2013)
    # Valid Basic alongside does not rescue a bad UI token: the token is what names the actor.
    headers = {**tenant.headers("maker@demo.test"), UI: token}
    assert_error(await client.post("/_probe/workflow", headers=headers), 401, 2013)


async def test_tokens_are_not_interchangeable(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ui = await ui_token(client, "maker@demo.test")
    oauth = (await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": "secret-100"})).json()
    oauth_token = oauth["data"]["accessToken"]
    assert_error(await client.get("/_probe/api", headers={OAUTH: ui}), 401, 2013)
    assert_error(await client.get("/_probe/api", headers={UI: oauth_token}), 401, 2013)


async def test_forged_oauth_tokens(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    expired = ctx.tokens.issue(subject="client:1", org_id=100, audience=OAUTH_AUDIENCE, ttl_seconds=-60)
    foreign = TokenService("nope", ctx.settings.jwt_issuer).issue(
        subject="client:1", org_id=100, audience=OAUTH_AUDIENCE, ttl_seconds=600
    )
    user_subject = ctx.tokens.issue(subject="user:1", org_id=100, audience=OAUTH_AUDIENCE, ttl_seconds=600)
    for token in (expired, foreign, user_subject, "x.y.z"):
        assert_error(await client.get("/_probe/api", headers={OAUTH: token}), 401, 2013)


async def test_ui_token_and_credentials_of_different_orgs(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    other = await make_tenant(ctx, 200, "Other Retail")
    await other.user("other-till", "BadgesRead", kind="till")
    token = await ui_token(client, "maker@demo.test")
    assert_error(await client.get("/_probe/api", headers={**basic("other-till"), UI: token}), 401, 2013)


# --- the Basic verification cache and lock-out ---------------------------------------------------------------


async def test_basic_verification_is_cached(client: httpx.AsyncClient, tenant: Tenant, argon2_calls: list[str]) -> None:
    calls = argon2_calls
    headers = tenant.headers("maker@demo.test")
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    assert len(calls) == 1
    for _ in range(3):
        assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    assert len(calls) == 1
    # A different header (the md5 form) is a different cache entry, and a wrong password is never cached.
    assert (await client.get("/_probe/whoami", headers=basic("maker@demo.test", md5=True))).status_code == 200
    assert len(calls) == 2
    for _ in range(2):
        assert_error(await client.get("/_probe/whoami", headers=basic("maker@demo.test", "bad")), 401, 2013)
    assert len(calls) == 4


async def test_cached_basic_is_dropped_when_the_password_changes(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    from sqlalchemy import update

    from foureyes.core.security import hash_password
    from foureyes.identity.models import User

    headers = tenant.headers("maker@demo.test")
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200
    async with ctx.db.write() as s:
        await s.execute(
            update(User).where(User.username == "maker@demo.test").values(password_hash=hash_password("new-pass"))
        )
    assert_error(await client.get("/_probe/whoami", headers=headers), 401, 2013)
    assert (await client.get("/_probe/whoami", headers=basic("maker@demo.test", "new-pass"))).status_code == 200


async def test_lock_out_after_repeated_failures(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    from sqlalchemy import update

    from foureyes.core.clock import utcnow
    from foureyes.identity.models import LoginThrottle

    limit = ctx.settings.login_max_failures
    for _ in range(limit):
        assert_error(await client.get("/_probe/whoami", headers=basic("maker@demo.test", "guess")), 401, 2013)
    # Now even the right password is refused, and the message says why.
    body = assert_error(await client.get("/_probe/whoami", headers=basic("maker@demo.test")), 401, 2013)
    assert "locked" in body["errors"][0]["message"]
    # Other users are unaffected.
    assert (await client.get("/_probe/whoami", headers=basic("till1"))).status_code == 200
    # When the lock lapses the right password works again.
    async with ctx.db.write() as s:
        await s.execute(update(LoginThrottle).values(locked_until=utcnow().replace(year=2000)))
    assert (await client.get("/_probe/whoami", headers=basic("maker@demo.test"))).status_code == 200


async def test_a_success_resets_the_failure_count(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    limit = ctx.settings.login_max_failures
    for _round in range(3):  # the later rounds succeed from the verification cache
        for _ in range(limit - 1):
            await client.get("/_probe/whoami", headers=basic("till1", "guess"))
        assert (await client.get("/_probe/whoami", headers=basic("till1", PASSWORD))).status_code == 200


# --- inactive principals, token renewal and timing --------------------------------------------------------------


async def _deactivate(ctx: AppContext, model: type, **where: object) -> None:
    from sqlalchemy import update

    async with ctx.db.write() as s:
        await s.execute(update(model).filter_by(**where).values(active=False))


async def test_inactive_user_is_refused_everywhere(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    from foureyes.identity.models import User

    headers = tenant.headers("maker@demo.test")
    assert (await client.get("/_probe/whoami", headers=headers)).status_code == 200  # now cached
    token = await ui_token(client, "maker@demo.test")
    await _deactivate(ctx, User, username="maker@demo.test")
    assert_error(await client.get("/_probe/whoami", headers=headers), 401, 2013)
    assert_error(await client.post("/_probe/workflow", headers={UI: token, ORG: "100"}), 401, 2013)
    assert_error(await client.post("/api_gateway/v2/auth/ui-token", headers=basic("maker@demo.test")), 401, 2013)


async def test_inactive_client_is_refused(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    from foureyes.identity.models import ApiClient

    issued = await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": "secret-100"})
    token = issued.json()["data"]["accessToken"]
    await _deactivate(ctx, ApiClient, key="key-100")
    assert_error(await client.get("/_probe/api", headers={OAUTH: token}), 401, 2013)
    refused = await client.post("/v3/oauth/token/generate", json={"key": "key-100", "secret": "secret-100"})
    assert_error(refused, 401, 2013)


async def test_a_ui_token_cannot_mint_its_successor(client: httpx.AsyncClient, tenant: Tenant) -> None:
    token = await ui_token(client, "maker@demo.test")
    assert_error(await client.post("/api_gateway/v2/auth/ui-token", headers={UI: token}), 403, 2001)
    both = {**basic("maker@demo.test"), UI: token}
    assert_error(await client.post("/api_gateway/v2/auth/ui-token", headers=both), 403, 2001)
    # The documented curl sends the header empty: that is still a plain Basic call.
    empty = await client.post("/api_gateway/v2/auth/ui-token", headers={**basic("maker@demo.test"), UI: ""})
    assert empty.status_code == 200


async def test_unknown_names_cost_the_same_argon2_work(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foureyes.core import security

    calls: list[str] = []
    real = security.verify_secret

    def counting(secret: str, stored_hash: str) -> bool:
        calls.append(stored_hash)
        return real(secret, stored_hash)

    monkeypatch.setattr(security, "verify_secret", counting)
    assert_error(await client.get("/_probe/whoami", headers=basic("nobody@demo.test", "guess")), 401, 2013)
    assert_error(await client.get("/_probe/whoami", headers=basic("maker@demo.test", "guess")), 401, 2013)
    assert_error(await client.post(TOKEN_URL, json={"key": "no-such-key", "secret": "guess"}), 401, 2013)
    assert_error(await client.post(TOKEN_URL, json={"key": "key-100", "secret": "guess"}), 401, 2013)
    assert len(calls) == 4
    assert all(h.startswith("$argon2id$") for h in calls)


TOKEN_URL = "/v3/oauth/token/generate"
