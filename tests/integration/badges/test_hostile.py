"""Hostile bodies and parameters never produce a 500; concurrent requestId races apply once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from foureyes.badges.models import BadgeEarn
from foureyes.core.context import AppContext
from tests.integration.badges.helpers import B, codes, create_badge, earn_body, meta_body, setup

NASTY: list[Any] = [
    None, 1, "x", [], [None], {"a": {"b": [1, {"c": "\u0000"}]}}, {"badgeMetaId": 5}, {"badgeMetaId": ["a"]},
    {"badgeMetaId": "a" * 5000}, {"customerId": 10**30}, {"customerId": -1}, {"customerId": {"x": 1}},
    {"customerIds": [10**30, "1\u0000", None, True, 1.5]}, {"customers": "abc"}, {"requestId": {"a": 1}},
    {"earnEventDate": 10**40}, {"earnEventDate": "9999-12-31T23:59:59Z"}, {"earnEventDate": "0001-01-01"},
    {"triggeredBy": "Loyalty"}, {"triggeredBy": {"ownerType": 5, "referenceId": ["a"]}},
    {"revokeIssuals": [{"customerId": "x", "issueId": 5}]}, {"revokeIssuals": "x"},
]  # fmt: skip


async def test_no_body_or_parameter_causes_a_500(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t)
    base = earn_body(badge["id"])
    posts = ["customer/earn", "customer/earnBulk", "badgeMeta/customer/issueBulk", "badgeMeta/customer/revokeIssue",
             "customer/revokeEarn", f"badgeMeta/{badge['id']}/claim", "group", "customField",
             "import/customerBadges", "badgeMeta"]  # fmt: skip
    for path in posts:
        for body in NASTY:
            for candidate in (body, {**base, **body} if isinstance(body, dict) else body):
                r = await client.post(f"{B}/{path}", json=candidate, headers=h)
                assert r.status_code < 500, (path, candidate, r.text)
    meta_nasty: list[dict[str, Any]] = [
        {"badgeRank": 10**20}, {"startOn": float("1e300")}, {"expiresOn": "NaN"}, {"name": "a\u0000b"},
        {"earnedBadgeExpiry": {"expiryType": "RELATIVE", "relativeExpirytype": "MONTHS", "value": 10**9}},
        {"customerConstraints": [{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 1,
                                  "durationType": "DAYS", "refreshRate": 10**12}]},
        {"badgeConstraints": [{"constraintType": "BADGE_ROLLING_WINDOW", "rollType": "MONTHS", "rollValue": 10**6,
                               "maxEarnLimit": 1}]},
        {"ownership": {"restrictedToOwners": [None, 5]}}, {"images": "x"}, {"customFields": []},
        {"badgeGroupId": "f" * 24},
    ]  # fmt: skip
    for over in meta_nasty:
        r = await client.post(f"{B}/badgeMeta", json=meta_body(**{"name": "n", **over}), headers=h)
        assert 400 <= r.status_code < 500, (over, r.text)
    gets = ["badgeMeta?page=-1", "badgeMeta?page=99999999999999", "badgeMeta?startOn=NaN", "badgeMeta?size=abc",
            "badgeMeta?name=%00", "customer/%00", "customer/99999999999999999999999", "management/1?order=UP",
            f"management/1/badge/{'z' * 300}", "badgeMeta/getFixedWindowDetails?badgeMetaId=x&customerId=abc",
            f"badgeMeta/getFixedWindowDetails?badgeMetaId={badge['id']}&startDate=zz"]  # fmt: skip
    for path in gets:
        r = await client.get(f"{B}/{path}", headers=h)
        assert r.status_code < 500, (path, r.text)


async def test_same_request_id_on_two_badges_at_once_applies_once(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    one = await create_badge(client, t, name="one")
    two = await create_badge(client, t, name="two")
    bodies = [earn_body(b["id"], 1, "shared") for b in (one, two)] * 4
    responses = await asyncio.gather(*[client.post(f"{B}/customer/earn", json=b, headers=h) for b in bodies])
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in responses]
    assert all(codes(r) == [809] and r.json()["data"] == ok[0].json()["data"] for r in responses if r not in ok)
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(BadgeEarn)) == 1


async def test_identical_concurrent_bulk_calls_apply_once(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t)
    bulk = {**earn_body(badge["id"], None, "bulk-1"), "customerIds": [1, 2, 3]}
    responses = await asyncio.gather(*[client.post(f"{B}/customer/earnBulk", json=bulk, headers=h) for _ in range(6)])
    assert sorted(r.status_code for r in responses) == [200] + [400] * 5
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(BadgeEarn)) == 3
