"""Badge meta: create/update validation codes, list filters, get with statistics, claims."""

from __future__ import annotations

import time
from typing import Any

import httpx

from foureyes.core.context import AppContext
from tests.integration.badges.helpers import DAY, B, codes, create_badge, earn_body, meta_body, setup


async def test_create_validation_codes(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    now = int(time.time())

    async def create(**over: Any) -> httpx.Response:
        return await client.post(f"{B}/badgeMeta", json=meta_body(**over), headers=h)

    assert codes(await create(startOn=now - 3 * DAY)) == [722]
    assert codes(await create(startOn=now + 2 * DAY, expiresOn=now + DAY)) == [720]
    assert codes(await create(ownership={"restrictedToOwners": []})) == [728]
    assert codes(await create(ownership={"restrictedToOwners": ["Nobody"]})) == [714]
    assert codes(await create(earnedBadgeExpiry=None)) == [726]
    assert codes(await create(earnedBadgeExpiry={"expiryType": "RELATIVE", "value": 0})) == [726]
    bad_limit = [{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 2, "durationType": "YEARS"}]
    assert codes(await create(customerConstraints=bad_limit)) == [727]
    assert (await create(earnType="OTHER")).status_code == 400
    assert (await create(startOn="not a date")).status_code == 400
    assert (await client.post(f"{B}/badgeMeta", content=b"{bad json", headers=h)).status_code == 400
    ok = await create(startOnISO="2099-01-01T00:00:00Z", expiresOnISO="2099-02-01T00:00:00.000Z")
    assert ok.status_code == 200, ok.text
    data = ok.json()["data"]
    assert data["status"] == "UPCOMING" and data["startOnISO"] == "2099-01-01T00:00:00Z"
    assert data["ownership"] == {"restrictedToOwners": ["Loyalty", "Goodwill_Module"], "claims": []}
    assert data["issuedBadgeExpiry"] is None and data["orgId"] == 100 and len(data["id"]) == 24
    # names are unique and case-sensitive
    assert codes(await create(startOn=now, expiresOn=now + DAY)) == [725]
    assert (await create(name="five transactions", startOn=now, expiresOn=now + DAY)).status_code == 200
    # epoch milliseconds are accepted
    ms = await create(name="ms", startOn=(now + DAY) * 1000, expiresOn=(now + 2 * DAY) * 1000)
    assert ms.json()["data"]["startOn"] == now + DAY
    # migrations may start in the past
    past = meta_body(name="Old", startOn=now - 400 * DAY)
    r = await client.post(f"{B}/badgeMeta", json=past, headers={**h, "X-CAP-BADGES-MIGRATION": "migration"})
    assert r.status_code == 200 and r.json()["data"]["status"] == "LIVE"


async def test_update_rules(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    live = await create_badge(
        client, t, customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_VALUE", "maxEarnLimit": 2}]
    )
    now = int(time.time())
    base = meta_body(id=live["id"], startOn=live["startOn"], expiresOn=live["expiresOn"],
                     customerConstraints=live["customerConstraints"])  # fmt: skip

    async def update(**over: object) -> httpx.Response:
        return await client.put(f"{B}/badgeMeta", json=base | over, headers=h)

    assert codes(await update(startOn=now + DAY)) == [723]
    assert codes(await update(expiresOn=now - 30)) == [724]
    window = [{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 2, "durationType": "DAYS"}]
    assert codes(await update(customerConstraints=window)) == [826]
    await create_badge(client, t, name="Other", claim=False)
    assert codes(await update(name="Other")) == [725]
    # the claimed owner (Loyalty) cannot be removed
    assert codes(await update(ownership={"restrictedToOwners": ["Journeys"]})) == [714]
    assert codes(await update(id="0" * 24)) == [404]
    r = await update(description="changed", expiresOn=now + 60 * DAY)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["description"] == "changed" and r.json()["data"]["expiresOn"] == now + 60 * DAY
    upcoming = await create_badge(client, t, name="Up", startOn=now + DAY, expiresOn=now + 9 * DAY)
    moved = meta_body(id=upcoming["id"], name="Up", startOn=now, expiresOn=now + 9 * DAY)
    r = await client.put(f"{B}/badgeMeta", json=moved, headers=h)
    assert r.status_code == 200 and r.json()["data"]["status"] == "LIVE"


async def test_list_filters_pagination_and_statistics(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("reader")
    now = int(time.time())
    live = await create_badge(client, t, name="A live")
    await create_badge(client, t, name="B upcoming", claim=False, startOn=now + DAY, expiresOn=now + 2 * DAY)
    await create_badge(client, t, name="C issue", earnType="ISSUE_EARN", claim=False)
    await client.post(f"{B}/customer/earn", json=earn_body(live["id"]), headers=t.headers("writer"))

    async def names(query: str) -> list[str]:
        r = await client.get(f"{B}/badgeMeta?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [m["name"] for m in r.json()["data"]["metaBasicDetails"]]

    assert await names("sortOn=NAME") == ["A live", "B upcoming", "C issue"]
    assert await names("sortOn=NAME&order=DESC&size=2") == ["C issue", "B upcoming"]
    assert await names("status=UPCOMING") == ["B upcoming"]
    assert sorted(await names("status=LIVE,UPCOMING")) == ["A live", "B upcoming", "C issue"]
    assert await names("earnType=ISSUE_EARN") == ["C issue"]
    assert await names("claimedBy=loyalty") == ["A live"]
    assert sorted(await names("unclaimed=true")) == ["B upcoming", "C issue"]
    assert await names("name=upcom") == ["B upcoming"]
    r = await client.get(f"{B}/badgeMeta?size=1&page=1&sortOn=NAME", headers=h)
    assert r.json()["data"]["pagination"] == {"page": 1, "size": 1, "total": 3, "totalPages": 3}
    assert (await client.get(f"{B}/badgeMeta?sortOn=WHAT", headers=h)).status_code == 400
    assert (await client.get(f"{B}/badgeMeta?status=NOPE", headers=h)).status_code == 400
    r = await client.get(f"{B}/badgeMeta/{live['id']}?includeStatistics=true", headers=h)
    assert r.json()["data"]["earnedCount"] == 1 and r.json()["data"]["issuedCount"] == 0
    r = await client.get(f"{B}/badgeMeta/{live['id']}", headers=h)
    assert "earnedCount" not in r.json()["data"]
    assert r.json()["data"]["ownership"]["claims"] == [{"ownerType": "Loyalty", "referenceId": "626", "isActive": True}]
    r = await client.get(f"{B}/badgeMeta/{'f' * 24}", headers=h)
    assert r.status_code == 404


async def test_claim_and_unclaim(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t, claim=False)
    url = f"{B}/badgeMeta/{badge['id']}"
    r = await client.post(f"{url}/claim", json={"ownerType": "goodwill_module", "referenceId": 123}, headers=h)
    assert r.json()["data"] == {"badgeMetaId": badge["id"], "ownerType": "Goodwill_Module", "referenceId": "123"}
    assert codes(await client.post(f"{url}/claim", json={"ownerType": "Journeys", "referenceId": "1"}, headers=h)) == [
        714
    ]
    assert codes(await client.post(f"{url}/claim", json={"ownerType": "Loyalty"}, headers=h)) == [717]
    assert codes(await client.post(f"{url}/claim", json={"referenceId": "1"}, headers=h)) == [716]
    assert (
        await client.post(f"{url}/claim", json={"ownerType": "Bogus", "referenceId": "1"}, headers=h)
    ).status_code == 400
    assert codes(await client.post(f"{url}/unclaim", json={"ownerType": "Loyalty", "referenceId": "9"}, headers=h)) == [
        737
    ]
    body = earn_body(badge["id"], triggeredBy={"ownerType": "Goodwill_Module", "referenceId": "123"})
    assert (await client.post(f"{B}/customer/earn", json=body, headers=h)).status_code == 200
    r = await client.post(f"{url}/unclaim", json={"ownerType": "Goodwill_Module", "referenceId": "123"}, headers=h)
    assert r.json()["data"] == {"ownerType": "Goodwill_Module", "referenceId": "123", "isActive": False}
    r = await client.post(f"{B}/customer/earn", json=body | {"requestId": "r-2"}, headers=h)
    assert codes(r) == [810]
    r = await client.get(url, headers=h)
    assert r.json()["data"]["ownership"]["claims"][0]["isActive"] is False
