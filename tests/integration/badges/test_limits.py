"""Limits hold under concurrent earns; idempotency holds under concurrent repeats; dry runs write nothing."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from foureyes.badges.earn_service import BadgesService
from foureyes.badges.models import BadgeEarn
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.webhooks.models import OutboxEvent
from tests.integration.badges.helpers import B, codes, create_badge, earn_body, setup


async def _earn_count(ctx: AppContext) -> int:
    async with ctx.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(BadgeEarn)) or 0)


async def test_concurrent_earns_never_exceed_a_badge_limit(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx, customers=30)
    badge = await create_badge(client, t, badgeConstraints=[{"constraintType": "BADGE_FIXED_VALUE", "maxEarnLimit": 7}])
    h = t.headers("writer")
    responses = await asyncio.gather(
        *[client.post(f"{B}/customer/earn", json=earn_body(badge["id"], i + 1, f"c-{i}"), headers=h) for i in range(30)]
    )
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 7
    assert all(codes(r) == [817] for r in refused), [r.text for r in refused]
    assert await _earn_count(ctx) == 7


async def test_concurrent_earns_never_exceed_a_customer_limit_through_the_service(ctx: AppContext) -> None:
    from foureyes.badges.meta_service import MetaService
    from tests.integration.badges.helpers import meta_body

    t = await setup(ctx)
    meta = await MetaService(ctx).create(
        t.org_id,
        meta_body(customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_VALUE", "maxEarnLimit": 3}]),
    )
    await MetaService(ctx).claim(t.org_id, meta["id"], {"ownerType": "Loyalty", "referenceId": "626"}, claim=True)
    svc = BadgesService(ctx)

    async def one(i: int) -> int:
        try:
            await svc.earn(t.org_id, earn_body(meta["id"], 1, f"s-{i}"), dry_run=False)
            return 0
        except AppError as exc:
            return exc.items[0].code

    results = await asyncio.gather(*[one(i) for i in range(30)])
    assert results.count(0) == 3 and results.count(817) == 27
    # another customer is unaffected by customer 1's limit
    await svc.earn(t.org_id, earn_body(meta["id"], 2, "s-other"), dry_run=False)
    assert await _earn_count(ctx) == 4


async def test_identical_concurrent_earns_apply_once_and_repeat_answers_809_with_original(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    t = await setup(ctx)
    badge = await create_badge(client, t)
    h = t.headers("writer")
    body = earn_body(badge["id"], 1, "same-id")
    responses = await asyncio.gather(*[client.post(f"{B}/customer/earn", json=body, headers=h) for _ in range(10)])
    ok = [r for r in responses if r.status_code == 200]
    dup = [r for r in responses if r.status_code == 400]
    assert len(ok) == 1 and len(dup) == 9
    original = ok[0].json()["data"]
    for r in dup:
        assert codes(r) == [809]
        assert r.json()["data"] == original
    assert await _earn_count(ctx) == 1
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxEvent)) == 1
    # requestId scope is (org, operation): the same id on earnBulk is a different operation
    bulk = {**body, "customerIds": [2]}
    assert (await client.post(f"{B}/customer/earnBulk", json=bulk, headers=h)).status_code == 200


async def test_fixed_window_and_rolling_window_limits(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(
        client,
        t,
        customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 2,
                              "durationType": "DAYS", "refreshRate": 3}],
        badgeConstraints=[{"constraintType": "BADGE_ROLLING_WINDOW", "rollType": "DAYS", "rollValue": 1,
                           "maxEarnLimit": 3}],
    )  # fmt: skip
    fixed = badge["customerConstraints"][0]
    assert fixed["cycleStatus"] == "ACTIVE" and fixed["referenceId"] and fixed["startDateISO"]
    got = []
    for i, cust in enumerate([1, 1, 1, 2, 3]):
        r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], cust, f"w-{i}"), headers=h)
        got.append(r.status_code if r.status_code == 200 else codes(r)[0])
    # customer 1 stops at 2 per window; the badge stops at 3 per rolling day
    assert got == [200, 200, 817, 200, 817]


async def test_dry_run_reports_counts_and_writes_nothing(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(
        client, t, customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_VALUE", "maxEarnLimit": 1}]
    )
    url = f"{B}/customer/earn?dryRun=true"
    r = await client.post(url, json=earn_body(badge["id"], 1, "d-1"), headers=h)
    assert r.status_code == 200, r.text
    report = r.json()["data"]
    assert report["dryRun"] is True and report["wouldEarn"] is True and report["badgeStatus"] == "LIVE"
    assert report["limits"][0]["currentEarnCount"] == 0 and report["limits"][0]["maxEarnLimit"] == 1
    assert await _earn_count(ctx) == 0
    # the dry run did not consume the requestId
    assert (
        await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 1, "d-1"), headers=h)
    ).status_code == 200
    r = await client.post(url, json=earn_body(badge["id"], 1, "d-2"), headers=h)
    assert codes(r) == [817]
    assert r.json()["data"]["limits"][0]["currentEarnCount"] == 1 and r.json()["data"]["wouldEarn"] is False
    # bulk dry runs count their own earlier items
    bulk = {**earn_body(badge["id"], None, "d-3"), "customerIds": [2, 2, 3]}
    r = await client.post(f"{B}/customer/earnBulk?dryRun=true", json=bulk, headers=h)
    items = r.json()["data"]["issuedBadges"]
    assert [i["error"] and i["error"]["code"] for i in items] == [None, 817, None]
    enrol = {
        "badgeMetaId": badge["id"],
        "customers": [1],
        "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"},
    }
    r = await client.post(f"{B}/badgeMeta/customer/issueBulk?dryRun=true", json=enrol, headers=h)
    assert r.status_code == 200 and r.json()["data"]["dryRun"] is True
    assert r.json()["data"]["issuedBadges"][0]["issuedId"] is None
    assert await _earn_count(ctx) == 1
