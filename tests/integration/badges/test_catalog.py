"""Badge groups and custom fields."""

from __future__ import annotations

import httpx

from foureyes.core.context import AppContext
from tests.integration.badges.helpers import B, codes, setup


async def test_groups(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    r = await client.post(f"{B}/group", json={"name": "GROUP_RANK_2", "rank": 2}, headers=h)
    assert r.status_code == 200, r.text
    g = r.json()["data"]
    assert g["name"] == "GROUP_RANK_2" and g["rank"] == 2 and g["isActive"] is True and g["orgId"] == 100
    assert codes(await client.post(f"{B}/group", json={"name": "GROUP_RANK_2", "rank": 3}, headers=h)) == [733]
    assert codes(await client.post(f"{B}/group", json={"name": "X"}, headers=h)) == [732]
    assert codes(await client.post(f"{B}/group", json={"rank": 1}, headers=h)) == [735]
    assert (await client.post(f"{B}/group", json={"name": "group_rank_2", "rank": 1}, headers=h)).status_code == 200
    r = await client.put(f"{B}/group/{g['id']}", json={"name": "Renamed", "rank": 5}, headers=h)
    assert r.json()["data"]["rank"] == 5
    r = await client.get(f"{B}/group/{g['id']}", headers=t.headers("reader"))
    assert r.json()["data"]["name"] == "Renamed"
    r = await client.get(f"{B}/group?size=1", headers=t.headers("reader"))
    assert r.json()["data"]["pagination"]["total"] == 2 and len(r.json()["data"]["badgeGroups"]) == 1
    assert (await client.get(f"{B}/group/{'a' * 24}", headers=h)).status_code == 404
    assert (
        await client.post(f"{B}/group", json={"name": "Y", "rank": 1}, headers=t.headers("reader"))
    ).status_code == 403


async def test_custom_fields(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    body = {"name": "CF20 dates", "isMandatory": False, "defaultValue": "0", "dataType": "STRING"}
    r = await client.post(f"{B}/customField", json=body, headers=h)
    assert r.status_code == 201, r.text
    f = r.json()["data"]
    assert f["name"] == "CF20 dates" and f["isActive"] is True and f["dataType"] == "STRING"
    assert codes(await client.post(f"{B}/customField", json=body, headers=h)) == [740]
    assert codes(await client.post(f"{B}/customField", json=body | {"name": "n", "dataType": None}, headers=h)) == [741]
    mandatory = body | {"name": "m", "isMandatory": True, "defaultValue": None}
    assert codes(await client.post(f"{B}/customField", json=mandatory, headers=h)) == [742]
    integer = body | {"name": "i", "dataType": "INTEGER", "defaultValue": "abc"}
    assert codes(await client.post(f"{B}/customField", json=integer, headers=h)) == [744]
    r = await client.put(f"{B}/customField/{f['id']}", json=body | {"isActive": False}, headers=h)
    assert r.json()["data"]["isActive"] is False
    r = await client.get(f"{B}/customField?isActive=true", headers=h)
    assert r.json()["data"]["customFieldROList"] == []
    r = await client.get(f"{B}/customField/{f['id']}", headers=h)
    assert r.json()["data"]["id"] == f["id"]


async def test_org_meta(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    url = f"{B}/orgMeta"
    assert (await client.get(url, headers=h)).status_code == 404
    tags = [{"key": "Category", "dataType": "string", "description": "Type of badge", "mandatory": False}]
    r = await client.post(url, json={"orgId": 100, "tags": tags}, headers=h)
    assert r.status_code == 200 and r.json()["data"]["tags"] == tags
    r = await client.post(url, json={"orgId": 100, "tags": tags}, headers=h)
    assert r.status_code == 409
    r = await client.put(url, json={"tags": []}, headers=h)
    assert r.json()["data"]["tags"] == []
    assert (await client.put(url, json={"tags": [{"key": ""}]}, headers=h)).status_code == 400
    assert (await client.get(url, headers=t.headers("reader"))).json()["data"]["orgId"] == 100
