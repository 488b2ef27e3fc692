"""Org header rules and tenant isolation (contract §3), enforced by WorkflowCaller / ApiCaller / require."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from foureyes.core.context import AppContext
from foureyes.identity.service import GrantSpec, IdentityService
from tests.factories import CONCEPT, STORE, ZONE, Tenant, basic, make_tenant
from tests.integration.identity.helpers import assert_error, mount_probe

ORG = "X-CAP-API-AUTH-ORG-ID"


@pytest.fixture
async def tenants(ctx: AppContext, app: FastAPI) -> tuple[Tenant, Tenant]:
    mount_probe(app)
    mine = await make_tenant(ctx, 100)
    await mine.user("maker@demo.test", "CanMakeRequest", "BadgesRead")
    await mine.user("checker@demo.test", "CanCheckRequest")
    await mine.user("zone-maker@demo.test", f"CanMakeRequest@{ZONE}", f"BadgesRead@{STORE}")
    theirs = await make_tenant(ctx, 200, "Other Retail")
    await theirs.user("their-maker@demo.test", "CanMakeRequest", "BadgesRead")
    await IdentityService(ctx.db).create_client(200, "key-200", "secret-200", "", [GrantSpec("BadgesRead")])
    return mine, theirs


async def test_workflow_route_accepts_own_org(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    mine, _ = tenants
    response = await client.post("/_probe/workflow", headers=mine.headers("maker@demo.test"))
    assert response.status_code == 200, response.text
    assert response.json()["org"] == 100


async def test_workflow_route_needs_the_org_header(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    body = assert_error(await client.post("/_probe/workflow", headers=basic("maker@demo.test")), 400, 2026)
    assert body["errors"][0]["reference"] == "X-CAP-API-AUTH-ORG-ID"
    assert_error(await client.post("/_probe/workflow", headers={**basic("maker@demo.test"), ORG: " "}), 400, 2026)


@pytest.mark.parametrize("value", ["abc", "100abc", "1.5", "0x64"])
async def test_non_numeric_org_header(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], value: str) -> None:
    headers = {**basic("maker@demo.test"), ORG: value}
    assert_error(await client.post("/_probe/workflow", headers=headers), 400, 2005)
    assert_error(await client.get("/_probe/api", headers=headers), 400, 2005)


async def test_another_orgs_header_is_forbidden(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    for org in ("200", "999"):
        headers = {**basic("maker@demo.test"), ORG: org}
        assert_error(await client.post("/_probe/workflow", headers=headers), 403, 2001)
        assert_error(await client.get("/_probe/api", headers=headers), 403, 2001)


async def test_another_orgs_credentials_with_my_org_header(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    headers = {**basic("their-maker@demo.test"), ORG: "100"}
    assert_error(await client.post("/_probe/workflow", headers=headers), 403, 2001)
    token = (await client.post("/v3/oauth/token/generate", json={"key": "key-200", "secret": "secret-200"})).json()
    oauth = {"X-CAP-API-OAUTH-TOKEN": token["data"]["accessToken"]}
    assert_error(await client.get("/_probe/api", headers={**oauth, ORG: "100"}), 403, 2001)
    assert (await client.get("/_probe/api", headers={**oauth, ORG: "200"})).json()["org"] == 200


async def test_api_route_org_header_is_optional(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    response = await client.get("/_probe/api", headers=basic("maker@demo.test"))
    assert response.status_code == 200
    assert response.json()["org"] == 100


async def test_user_without_the_permission(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    mine, _ = tenants
    body = assert_error(await client.post("/_probe/workflow", headers=mine.headers("checker@demo.test")), 403, 2001)
    assert "CanMakeRequest" in body["errors"][0]["message"]
    assert_error(await client.get("/_probe/api", headers=mine.headers("checker@demo.test")), 403, 2001)


async def test_unit_scoped_grants_resolve_to_paths(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    mine, _ = tenants
    response = await client.post("/_probe/workflow", headers=mine.headers("zone-maker@demo.test"))
    assert response.status_code == 200, response.text
    assert response.json()["grants"] == [
        ["BadgesRead", f"/{CONCEPT}/{ZONE}/{STORE}/"],
        ["CanMakeRequest", f"/{CONCEPT}/{ZONE}/"],
    ]


@pytest.mark.parametrize("path", ["/_probe/workflow", "/_probe/api", "/_probe/whoami"])
async def test_no_credentials(client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], path: str) -> None:
    response = await client.request("POST" if path.endswith("workflow") else "GET", path, headers={ORG: "100"})
    assert_error(response, 401, 2013)
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_no_credentials_and_no_org_header_is_401(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    # Authentication comes first: an anonymous caller learns nothing about the org rules.
    assert_error(await client.post("/_probe/workflow"), 401, 2013)


async def test_usernames_are_global_across_orgs(ctx: AppContext, tenants: tuple[Tenant, Tenant]) -> None:
    from foureyes.core.errors import Conflict

    _, theirs = tenants
    with pytest.raises(Conflict):
        await theirs.user("maker@demo.test", "CanMakeRequest")
