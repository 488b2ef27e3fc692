"""Console fixtures: a tenant with makers, checkers and a till, and a helper that signs in through the form."""

from __future__ import annotations

import re

import httpx
import pytest

from foureyes.core.context import AppContext
from tests.factories import STORE, Tenant, make_tenant

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CUSTOMER = {"id": 382477526, "mobile": "919999999999", "email": "c@demo.test", "firstname": "Asha"}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = "s3cret-pass") -> httpx.Response:
    """Sign in through the real form (GET for the token, POST the credentials)."""
    client.cookies.clear()
    form = await client.get("/console/login")
    assert form.status_code == 200
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text), "next": "/console/"},
    )


async def page_token(client: httpx.AsyncClient, path: str) -> str:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


@pytest.fixture
async def tenant(ctx: AppContext, app) -> Tenant:  # type: ignore[no-untyped-def]
    # Downstream calls to this server's own base URL go straight into the same app, in-process.
    ctx.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    t = await make_tenant(ctx)
    await t.user("maker@demo.test", "CanMakeRequest")
    await t.user("checker@demo.test", "CanCheckRequest")
    await t.user("admin@demo.test", "CanConfigureWorkflows", "CanMakeRequest", "CanCheckRequest")
    await t.user("store2checker@demo.test", f"CanCheckRequest@{STORE}9")
    await t.user("nobody@demo.test")
    await t.user("ab124", "CustomersWrite", "BadgesWrite", "BadgesRead", kind="till")
    other = await make_tenant(ctx, org_id=200, name="Other Retail", second_store=False)
    await other.user("otherchecker@other.test", "CanCheckRequest", "CanConfigureWorkflows")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        r = await c.post("/v2/customers", json=CUSTOMER, headers=t.headers("ab124"))
        assert r.status_code == 200, r.text
    return t


def status_change_form(token: str, **extra: str) -> dict[str, str]:
    from tests.factories import TILL

    form = {
        "csrf_token": token,
        "type": "CUSTOMER-STATUS-CHANGE",
        "till": TILL,
        "hostname": "http://testserver",
        "identifier_name": "mobile",
        "identifier_value": CUSTOMER["mobile"],
        "label": "Suspended",
        "reason": "fraud check",
        "till_username": "ab124",
        "till_password": "s3cret-pass",
    }
    form.update(extra)
    return form


async def raise_status_change(client: httpx.AsyncClient) -> str:
    """As the signed-in maker: raise a CUSTOMER-STATUS-CHANGE from the form; returns the request id."""
    token = await page_token(client, "/console/requests/new?type=CUSTOMER-STATUS-CHANGE")
    r = await client.post("/console/requests/new", data=status_change_form(token))
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/console/requests/")
    return location.split("/")[-1].split("?")[0]
