"""Revocations, import, the three customer views, fixed-window details, identifier header."""

from __future__ import annotations

import time

import httpx

from foureyes.core.context import AppContext
from tests.integration.badges.helpers import DAY, B, codes, create_badge, earn_body, setup

TRIG = {"ownerType": "Loyalty", "referenceId": "626"}


async def test_revoke_issue_and_revoke_earn(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t, earnType="ISSUE_EARN")
    enrol = {"badgeMetaId": badge["id"], "customers": [1, 2], "triggeredBy": TRIG}
    issued = (await client.post(f"{B}/badgeMeta/customer/issueBulk", json=enrol, headers=h)).json()["data"]
    first = issued["issuedBadges"][0]["issuedId"]
    url = f"{B}/badgeMeta/customer/revokeIssue"
    assert codes(await client.post(url, json={"badgeMetaId": badge["id"]}, headers=h)) == [1051]
    wrong_owner = {"badgeMetaId": badge["id"], "revokeIssuals": [{"customerId": 2, "issueId": first}]}
    r = await client.post(url, json=wrong_owner, headers=h)
    assert r.json()["data"]["revokedIssuedBadges"][0]["error"]["message"] == "issue doesn't belong to customer"
    r = await client.post(url, json={"badgeMetaId": badge["id"], "customers": [1, 3]}, headers=h)
    out = r.json()["data"]["revokedIssuedBadges"]
    assert out[0] == {"customerId": 1, "issuedId": first, "error": None}
    assert out[1]["error"]["code"] == 404
    # revoked enrolment → earn needs a new one
    assert codes(await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=h)) == [811]
    earned = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], 2, "r-2"), headers=h)
    earned_id = earned.json()["data"]["earnedBadgeId"]
    revoke = {"badgeMetaId": badge["id"], "customerId": 2, "earnedBadgeId": earned_id}
    r = await client.post(f"{B}/customer/revokeEarn", json=revoke, headers=h)
    assert r.json()["data"] == revoke | {"isActive": False}
    assert codes(await client.post(f"{B}/customer/revokeEarn", json=revoke, headers=h)) == [814]
    # with the identifier header the customer slot carries an email
    r = await client.post(f"{B}/customer/revokeEarn", json=revoke | {"customerId": "c2@100.test"},
                          headers={**h, "X-CAP-CUSTOMER-IDENTIFIER": "email"})  # fmt: skip
    assert codes(r) == [814]
    r = await client.post(f"{B}/customer/revokeEarn", json=revoke | {"customerId": "nobody@x"},
                          headers={**h, "X-CAP-CUSTOMER-IDENTIFIER": "email"})  # fmt: skip
    assert codes(r) == [1026]


async def test_import_earned_badges_put_and_post(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    other = await setup(ctx, org_id=200, prefix="o2-")
    h = t.headers("writer")
    badge = await create_badge(client, t)
    foreign = await create_badge(client, other, name="Theirs", user="o2-writer")
    now = int(time.time())
    rows = [
        {"badgeMetaId": badge["id"], "customerId": 1, "earnEventDate": now - DAY, "earnExpiresOn": now + DAY},
        {"badgeMetaId": foreign["id"], "customerId": 1, "earnEventDate": now - DAY, "earnExpiresOn": now + DAY},
        {"badgeMetaId": badge["id"], "customerId": 99, "earnEventDate": now - DAY, "earnExpiresOn": now + DAY},
    ]
    r = await client.put(f"{B}/import/customerBadges", json=rows, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out[0]["data"]["expiresOn"] == now + DAY and out[0]["errors"] == []
    assert [e["code"] for e in out[1]["errors"]] == [1054] and [e["code"] for e in out[2]["errors"]] == [1026]
    r = await client.post(f"{B}/import/customerBadges", json=rows[:1], headers=h)
    assert r.status_code == 200 and r.json()[0]["data"]["customerId"] == 1
    assert (await client.post(f"{B}/import/customerBadges", json={"x": 1}, headers=h)).status_code == 400


async def test_customer_views(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    g = (await client.post(f"{B}/group", json={"name": "Gold", "rank": 2}, headers=h)).json()["data"]
    a = await create_badge(client, t, name="A", badgeGroupId=g["id"], badgeRank=1)
    b = await create_badge(client, t, name="B")
    await create_badge(client, t, name="C issue", earnType="ISSUE_EARN")
    await client.post(f"{B}/customer/earn", json=earn_body(a["id"], 1, "x1"), headers=h)
    await client.post(f"{B}/customer/earn", json=earn_body(a["id"], 1, "x2"), headers=h)

    r = await client.get(f"{B}/customer/1?badgeType=EARNED", headers=h)
    assert r.status_code == 200, r.text
    badges = r.json()["data"]["badges"]
    assert [x["name"] for x in badges] == ["A"] and badges[0]["earnedCount"] == 2
    assert badges[0]["badgeGroupName"] == "Gold" and badges[0]["lastEarnedOnDateISO"]
    r = await client.get(f"{B}/customer/1?badgeType=AVAILABLE", headers=h)
    assert [x["name"] for x in r.json()["data"]["badges"]] == ["A", "B"]  # C needs an enrolment
    r = await client.get(
        f"{B}/customer/ext-1?badgeType=EARNED", headers={**h, "X-CAP-CUSTOMER-IDENTIFIER": "externalId"}
    )
    assert [x["name"] for x in r.json()["data"]["badges"]] == ["A"]
    assert codes(await client.get(f"{B}/customer/77", headers=h)) == [1026]
    assert codes(await client.get(f"{B}/customer/1", headers={**h, "X-CAP-CUSTOMER-IDENTIFIER": "shoe"})) == [1028]

    r = await client.get(f"{B}/management/1?badgeType=EARNED", headers=h)
    data = r.json()["data"]
    assert [x["name"] for x in data["customerBadges"]] == ["A"] and data["customerBadges"][0]["earnCount"] == 2
    assert data["pagination"]["total"] == 1
    r = await client.get(f"{B}/management/1?size=2&sortOn=LAST_MODIFIED_DATE&order=DESC", headers=h)
    assert r.json()["data"]["pagination"]["total"] == 3 and len(r.json()["data"]["customerBadges"]) == 2
    assert (await client.get(f"{B}/management/1?badgeType=X", headers=h)).status_code == 400

    r = await client.get(f"{B}/management/1/badge/{a['id']}?includeStatistics=true", headers=h)
    detail = r.json()["data"]
    assert detail["earnDetails"]["earnCount"] == 2 and detail["activeEarnedCount"] == 2
    assert detail["badgeStatus"] == "LIVE" and detail["issualDetails"] == {"issuedCount": 0, "issuals": []}
    assert (await client.get(f"{B}/management/1/badge/{b['id'][:-1]}0", headers=h)).status_code in (200, 404)


async def test_fixed_window_details(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    now = int(time.time())
    badge = await create_badge(
        client, t, expiresOn=now + 20 * DAY,
        customerConstraints=[{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 5,
                              "durationType": "WEEKLY", "startDayOfTheWeek": "MONDAY"}],
        badgeConstraints=[{"constraintType": "BADGE_FIXED_WINDOW", "maxEarnLimit": 9, "durationType": "DAYS",
                           "refreshRate": 7}],
    )  # fmt: skip
    await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=h)
    url = f"{B}/badgeMeta/getFixedWindowDetails?badgeMetaId={badge['id']}"
    r = await client.get(f"{url}&constraintType=CUSTOMER&customerId=1&includeEarnCount=true", headers=h)
    assert r.status_code == 200, r.text
    cycles = r.json()["data"]["fixedWindowCycles"]
    assert 3 <= len(cycles) <= 4
    assert cycles[0]["earnCount"] == 1 and cycles[1]["earnCount"] == 0
    # weekly cycles after the first start on a Monday
    from datetime import datetime

    assert datetime.fromisoformat(cycles[1]["startDateISO"].rstrip("Z")).isoweekday() == 1
    r = await client.get(f"{url}&constraintType=BADGE&includeEarnCount=true", headers=h)
    assert r.json()["data"]["fixedWindowCycles"][0]["earnCount"] == 1
    assert codes(await client.get(f"{url}&includeEarnCount=true", headers=h)) == [812]
    assert (await client.get(f"{B}/badgeMeta/getFixedWindowDetails", headers=h)).status_code == 400
