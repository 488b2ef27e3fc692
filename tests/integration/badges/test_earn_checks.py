"""An earn reads its checks in two statements (the badge, then requestId + claim + customer + limit counts);
the answers keep the documented precedence, and the earn metric counts what was really earned."""

from __future__ import annotations

import httpx

from foureyes.core.context import AppContext
from tests.integration.badges.helpers import B, codes, create_badge, earn_body, setup

EARNED = "foureyes_badge_earns_total"


async def test_precedence_of_checks_read_together(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t)
    unclaimed = await create_badge(client, t, name="Unclaimed", claim=False)

    async def post(body: object) -> httpx.Response:
        return await client.post(f"{B}/customer/earn", json=body, headers=h)

    assert (await post(earn_body(badge["id"], 1, "seen"))).status_code == 200
    # an unknown badge is 404 before a repeated requestId
    r = await post(earn_body("0" * 24, 1, "seen"))
    assert r.status_code == 404
    # a repeated requestId is 809 before an unknown or a malformed customer, or a missing claim
    for customer in (999, "abc", -1):
        assert codes(await post(earn_body(badge["id"], customer, "seen"))) == [809], customer
    assert codes(await post(earn_body(badge["id"], 1, "seen", triggeredBy={"ownerType": "Loyalty",
                                                                           "referenceId": "x"}))) == [809]  # fmt: skip
    # the customer (unknown 1026, malformed 400) before the claim (810)
    r = await post(earn_body(unclaimed["id"], 999, "u-1"))
    assert (r.status_code, codes(r)) == (404, [1026])
    r = await post(earn_body(unclaimed["id"], "abc", "u-2"))
    assert r.status_code == 400 and codes(r) == [400]
    assert codes(await post(earn_body(unclaimed["id"], 1, "u-3"))) == [810]
    # not live (815) before not claimed (810)
    await client.put(f"{B}/badgeMeta/{unclaimed['id']}/deactivate", headers=h)
    assert codes(await post(earn_body(unclaimed["id"], 1, "u-4"))) == [815]


async def test_a_revoked_claim_is_refused_at_once(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t)
    assert (await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 1, "a"), headers=h)).status_code == 200
    claim = {"ownerType": "Loyalty", "referenceId": "626"}
    r = await client.post(f"{B}/badgeMeta/{badge['id']}/unclaim", json=claim, headers=h)
    assert r.status_code == 200, r.text
    assert codes(await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 1, "b"), headers=h)) == [810]


async def test_limits_count_by_identifier_and_across_bulk_items(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(
        client, t, customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_VALUE", "maxEarnLimit": 2}]
    )
    by_email = {**h, "X-CAP-CUSTOMER-IDENTIFIER": "email"}
    for rid in ("e-1", "e-2"):
        r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], "c1@100.test", rid), headers=by_email)
        assert r.status_code == 200 and r.json()["data"]["customerId"] == 1, r.text
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 1, "e-3"), headers=h)
    assert codes(r) == [817]
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], "nobody@x", "e-4"), headers=by_email)
    assert codes(r) == [1026]
    # inside one bulk call each item's count sees the earns of the items before it
    body = {**earn_body(badge["id"], None, "bulk"), "customerIds": [2, 2, 2, 3]}
    items = (await client.post(f"{B}/customer/earnBulk", json=body, headers=h)).json()["data"]["issuedBadges"]
    assert [i["error"]["code"] if i["error"] else None for i in items] == [None, None, 817, None]


async def test_earn_metric_counts_real_earns_only(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t)

    def earned() -> float:
        return ctx.metrics.registry.get_sample_value(EARNED) or 0.0

    start = earned()
    assert (await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 1, "m-1"), headers=h)).is_success
    assert earned() == start + 1
    # a replay (809), a refusal, a dry run and the bulk items that fail earn nothing
    assert codes(await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 1, "m-1"), headers=h)) == [809]
    assert codes(await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 999, "m-2"), headers=h)) == [1026]
    dry = await client.post(f"{B}/customer/earn?dryRun=true", json=earn_body(badge["id"], 1, "m-3"), headers=h)
    assert dry.json()["data"]["wouldEarn"] is True
    assert earned() == start + 1
    body = {**earn_body(badge["id"], None, "m-bulk"), "customerIds": [1, 2, 404]}
    assert (await client.post(f"{B}/customer/earnBulk", json=body, headers=h)).is_success
    assert earned() == start + 3
    assert (await client.post(f"{B}/customer/earnBulk", json=body, headers=h)).status_code == 400  # replay
    assert earned() == start + 3
    metrics = (await client.get("/metrics")).text
    assert f"{EARNED} {start + 3}" in metrics
