"""Pages and menus follow the user's permissions; the workflow settings page stores revisions."""

from __future__ import annotations

import httpx

from tests.factories import Tenant
from tests.integration.console.conftest import login, page_token


async def test_menus_and_routes_follow_permissions(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    page = await client.get("/console/mine")
    assert page.status_code == 200
    assert 'href="/console/requests/new"' in page.text
    assert 'href="/console/inbox"' not in page.text and 'href="/console/settings"' not in page.text
    for path in ("/console/inbox", "/console/inbox/results", "/console/settings"):
        r = await client.get(path)
        assert r.status_code == 403, path
        assert "permission" in r.text

    await login(client, "checker@demo.test")
    page = await client.get("/console/inbox")
    assert 'href="/console/requests/new"' not in page.text and 'href="/console/settings"' not in page.text
    assert (await client.get("/console/requests/new")).status_code == 403
    assert (await client.get("/console/mine")).status_code == 403
    token = await page_token(client, "/console/inbox")
    r = await client.post("/console/settings", data={"csrf_token": token, "type": "EARN-BADGE", "autoApprove": "on"})
    assert r.status_code == 403

    await login(client, "nobody@demo.test")
    assert (await client.get("/console/")).headers["location"] == "/console/nothing"
    assert "No console access" in (await client.get("/console/nothing")).text


async def test_unit_scoped_configure_permission_cannot_save(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("unitadmin@demo.test", "CanConfigureWorkflows@50682288")
    await login(client, "unitadmin@demo.test")
    r = await client.get("/console/settings")
    assert r.status_code == 403
    assert "org-wide CanConfigureWorkflows" in r.text


async def test_settings_page_saves_a_revision(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "admin@demo.test")
    page = await client.get("/console/settings?type=GOODWILL-POINTS")
    assert page.status_code == 200
    assert "http://testserver" in page.text and "Revision 0" in page.text
    token = await page_token(client, "/console/settings")
    form = {
        "csrf_token": token, "type": "GOODWILL-POINTS", "enabled": "on", "requiredApprovals": "2",
        "pendingTtlHours": "48", "allowedHosts": "http://testserver\nhttps://crm.example.com",
        "hostRoutes": "https://crm.example.com => http://127.0.0.1:9000", "rules": "body.points <= 100",
        "webhooks": "https://hooks.example.com/in shh",
    }  # fmt: skip
    r = await client.post("/console/settings", data=form)
    assert r.status_code == 303, r.text
    api = await client.get(
        "/api_gateway/v2/request-workflow/config/GOODWILL-POINTS", headers=tenant.headers("admin@demo.test")
    )
    config = api.json()["data"]["config"]
    assert api.json()["data"]["revision"] == 1
    assert config["requiredApprovals"] == 2 and config["pendingTtlHours"] == 48
    assert config["autoApproveRules"] == [{"path": "body.points", "op": "<=", "value": 100.0}]
    assert config["hostRoutes"] == {"https://crm.example.com": "http://127.0.0.1:9000"}
    assert config["webhooks"] == [{"url": "https://hooks.example.com/in", "secret": "****"}]
    shown = await client.get(r.headers["location"])
    assert "Saved as revision 1" in shown.text and "shh" not in shown.text

    # Saving the page unchanged keeps the webhook secret and stores no new revision.
    token = await page_token(client, "/console/settings?type=GOODWILL-POINTS")
    again = {**form, "csrf_token": token, "webhooks": "https://hooks.example.com/in ****"}
    assert (await client.post("/console/settings", data=again)).status_code == 303
    api = await client.get(
        "/api_gateway/v2/request-workflow/config/GOODWILL-POINTS", headers=tenant.headers("admin@demo.test")
    )
    assert api.json()["data"]["revision"] == 1


async def test_settings_errors_are_shown_next_to_the_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "admin@demo.test")
    token = await page_token(client, "/console/settings")
    r = await client.post(
        "/console/settings",
        data={"csrf_token": token, "type": "EARN-BADGE", "requiredApprovals": "0", "allowedHosts": "not a url",
              "rules": "points are many"},
    )  # fmt: skip
    assert r.status_code == 400
    assert 'id="rules-error"' in r.text
    r = await client.post(
        "/console/settings",
        data={"csrf_token": token, "type": "EARN-BADGE", "requiredApprovals": "0", "allowedHosts": "not a url"},
    )
    assert r.status_code == 400
    assert 'id="requiredApprovals-error"' in r.text and 'id="allowedHosts-error"' in r.text
    unknown = await client.post("/console/settings", data={"csrf_token": token, "type": "NOPE"})
    assert unknown.status_code == 400 and "not supported" in unknown.text
