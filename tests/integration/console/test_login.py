"""Console sign-in: the session cookie's attributes, failures, CSRF on the login form, logout, tampering."""

from __future__ import annotations

import httpx

from tests.factories import Tenant
from tests.integration.console.conftest import csrf_of, login, page_token


async def test_login_sets_a_hardened_session_cookie(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await login(client, "checker@demo.test")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/"
    cookie = r.headers["set-cookie"].lower()
    assert "foureyes_console=" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert "max-age=28800" in cookie
    assert "secure" not in cookie  # plain http here; https requests get Secure (next test)
    home = await client.get("/console/")
    assert home.headers["location"] == "/console/inbox"
    inbox = await client.get("/console/inbox")
    assert inbox.status_code == 200
    assert "checker@demo.test" in inbox.text
    assert inbox.headers["content-security-policy"].startswith("default-src 'self'")


async def test_https_requests_get_a_secure_cookie(app, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        r = await login(c, "checker@demo.test")
    assert r.status_code == 303
    assert "secure" in r.headers["set-cookie"].lower()


async def test_wrong_password_is_refused_with_a_message(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await login(client, "checker@demo.test", "wrong")
    assert r.status_code == 401
    assert "Invalid username or password" in r.text
    assert "foureyes_console=" not in r.headers.get("set-cookie", "")
    assert (await client.get("/console/inbox")).status_code == 303


async def test_login_form_without_its_token_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await client.get("/console/login")
    r = await client.post("/console/login", data={"username": "checker@demo.test", "password": "s3cret-pass"})
    assert r.status_code == 403
    assert "expired" in r.text
    assert "foureyes_console=" not in r.headers.get("set-cookie", "")


async def test_pages_need_a_session_and_remember_where_to_go(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.get("/console/inbox?states=")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=%2Fconsole%2Finbox%3Fstates%3D"
    fragment = await client.get("/console/inbox/results", headers={"HX-Request": "true"})
    assert fragment.headers["hx-redirect"].startswith("/console/login")


async def test_only_console_paths_are_followed_after_login(client: httpx.AsyncClient, tenant: Tenant) -> None:
    form = await client.get("/console/login?next=https://evil.example/")
    assert 'name="next" value="/console/"' in form.text
    r = await client.post(
        "/console/login",
        data={"username": "checker@demo.test", "password": "s3cret-pass", "csrf_token": csrf_of(form.text),
              "next": "//evil.example/"},
    )  # fmt: skip
    assert r.headers["location"] == "/console/"


async def test_a_tampered_cookie_is_no_session(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "checker@demo.test")
    value = client.cookies.get("foureyes_console")
    assert value
    body, _, sig = value.partition(".")
    for forged in (body + "x." + sig, body + "." + sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB"), "garbage"):
        client.cookies.clear()
        client.cookies.set("foureyes_console", forged, path="/console")
        assert (await client.get("/console/inbox")).status_code == 303
    client.cookies.clear()
    client.cookies.set("foureyes_console", value, path="/console")
    assert (await client.get("/console/inbox")).status_code == 200


def test_sessions_expire_and_are_bound_to_the_server_key() -> None:
    from foureyes.console.session import SessionCodec

    codec = SessionCodec("key-one", ttl_seconds=60)
    value, session = codec.issue(7, 100, now=1_000)
    assert codec.read(value, now=1_059) == session
    assert codec.read(value, now=1_060) is None
    assert SessionCodec("key-two", ttl_seconds=60).read(value, now=1_001) is None


async def test_logout_needs_the_token_then_ends_the_session(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "checker@demo.test")
    refused = await client.post("/console/logout", data={"csrf_token": "nope"})
    assert refused.status_code == 403
    assert (await client.get("/console/inbox")).status_code == 200
    token = await page_token(client, "/console/inbox")
    out = await client.post("/console/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert (await client.get("/console/inbox")).status_code == 303


async def test_a_deactivated_user_loses_the_session(client: httpx.AsyncClient, tenant: Tenant) -> None:
    from sqlalchemy import update

    from foureyes.identity.models import User

    await login(client, "checker@demo.test")
    assert (await client.get("/console/inbox")).status_code == 200
    async with tenant.ctx.db.write() as s:
        await s.execute(update(User).where(User.username == "checker@demo.test").values(active=False))
    assert (await client.get("/console/inbox")).status_code == 303


async def test_repeated_failures_lock_the_account_with_a_clear_message(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for _ in range(tenant.ctx.settings.login_max_failures):
        assert (await login(client, "checker@demo.test", "wrong")).status_code == 401
    locked = await login(client, "checker@demo.test")
    assert locked.status_code == 401
    assert "locked for a few minutes" in locked.text
    assert "foureyes_console=" not in locked.headers.get("set-cookie", "")
