"""Earning: the happy path, its event and audit, and every documented refusal."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from foureyes.audit.models import AuditEvent
from foureyes.core.context import AppContext
from foureyes.webhooks.models import OutboxEvent
from tests.integration.badges.helpers import DAY, B, codes, create_badge, earn_body, setup


async def test_earn_returns_the_documented_shape_and_records_event_and_audit(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    t = await setup(ctx)
    badge = await create_badge(client, t)
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], "1"), headers=t.headers("writer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == [] and body["warnings"] == []
    data = body["data"]
    assert data["badgeMetaId"] == badge["id"] and data["customerId"] == 1 and data["requestId"] == "r-1"
    assert len(data["earnedBadgeId"]) == 24 and data["issuedId"] is None
    # RELATIVE 2 WEEKS from the earn
    assert abs(data["expiresOn"] - (time.time() + 14 * DAY)) < 120
    assert data["expiresOnISO"].endswith("Z")
    async with ctx.db.read() as s:
        events = (await s.scalars(select(OutboxEvent).where(OutboxEvent.event_name == "badgeEarned"))).all()
        audit = (await s.scalars(select(AuditEvent).where(AuditEvent.action == "badge.earned"))).all()
    assert len(events) == 1 and len(audit) == 1
    payload = events[0].payload
    assert payload["eventName"] == "badgeEarned" and payload["orgId"] == 100
    assert payload["eventId"] == events[0].event_id
    assert payload["data"]["earnedBadgeId"] == data["earnedBadgeId"]
    assert payload["data"]["triggeredBy"] == {"ownerType": "Loyalty", "referenceId": "626"}


async def test_earn_validation_codes(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    badge = await create_badge(client, t)
    h = t.headers("writer")

    async def post(body: object) -> httpx.Response:
        return await client.post(f"{B}/customer/earn", json=body, headers=h)

    b = earn_body(badge["id"])
    assert codes(await post({k: v for k, v in b.items() if k != "customerId"})) == [812]
    assert codes(await post({k: v for k, v in b.items() if k != "requestId"})) == [804]
    assert codes(await post(b | {"triggeredBy": {"referenceId": "626"}})) == [716]
    assert codes(await post(b | {"triggeredBy": {"ownerType": "Loyalty"}})) == [717]
    r = await post(b | {"customerId": 999})
    assert r.status_code == 404 and codes(r) == [1026]
    r = await post(b | {"badgeMetaId": "0" * 24})
    assert r.status_code == 404
    assert codes(await post(b | {"triggeredBy": {"ownerType": "Loyalty", "referenceId": "nope"}})) == [810]
    assert codes(await post(b | {"triggeredBy": {"ownerType": "Journeys", "referenceId": "626"}})) == [810]
    assert codes(await post(b | {"earnEventDate": int(time.time()) + 3 * DAY})) == [750]
    assert codes(await post(b | {"earnEventDate": int(time.time()) - 3 * DAY})) == [816]
    assert (await post([1, 2])).status_code == 400
    assert (await post("hello")).status_code == 400
    # nothing was written by any refusal
    r = await post(b)
    assert r.status_code == 200, r.text


async def test_owner_type_is_case_insensitive_and_answered_title_case(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    t = await setup(ctx)
    badge = await create_badge(client, t)
    body = earn_body(badge["id"], triggeredBy={"ownerType": "LOYALTY", "referenceId": "626"})
    r = await client.post(f"{B}/customer/earnBulk", json={**body, "customerIds": [1]}, headers=t.headers("writer"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["triggeredBy"]["ownerType"] == "Loyalty"


async def test_earn_on_inactive_upcoming_or_unclaimed_badge(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(client, t)
    assert (await client.put(f"{B}/badgeMeta/{badge['id']}/deactivate", headers=h)).json()["data"] == {
        "id": badge["id"],
        "isActive": False,
    }
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=h)
    assert codes(r) == [815]
    await client.put(f"{B}/badgeMeta/{badge['id']}/activate", headers=h)
    assert (await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=h)).status_code == 200

    later = int(time.time()) + 2 * DAY
    upcoming = await create_badge(client, t, name="Later", startOn=later, expiresOn=later + DAY)
    assert upcoming["status"] == "UPCOMING"
    r = await client.post(f"{B}/customer/earn", json=earn_body(upcoming["id"], request_id="r-2"), headers=h)
    assert codes(r) == [815]

    unclaimed = await create_badge(client, t, name="Unclaimed", claim=False)
    r = await client.post(f"{B}/customer/earn", json=earn_body(unclaimed["id"], request_id="r-3"), headers=h)
    assert codes(r) == [810]


async def test_issue_earn_needs_an_enrolment(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    h = t.headers("writer")
    badge = await create_badge(
        client, t, earnType="ISSUE_EARN",
        issuedBadgeExpiry={"expiryType": "ABSOLUTE", "type": "WITH_BADGE_META"},
    )  # fmt: skip
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=h)
    assert r.status_code == 409 and codes(r) == [811]
    enrol = {"badgeMetaId": badge["id"], "customers": [1, 999], "requestId": "e-1",
             "triggeredBy": {"ownerType": "Loyalty", "referenceId": "626"}}  # fmt: skip
    r = await client.post(f"{B}/badgeMeta/customer/issueBulk", json=enrol, headers=h)
    assert r.status_code == 200, r.text
    issued = r.json()["data"]["issuedBadges"]
    assert issued[0]["customerId"] == 1 and issued[0]["error"] is None and len(issued[0]["issuedId"]) == 24
    assert issued[1]["error"]["code"] == 1026
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"], request_id="r-2"), headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["issuedId"] == issued[0]["issuedId"]
    # a second enrolment while one is active → 1040 per item
    r = await client.post(f"{B}/badgeMeta/customer/issueBulk", json=enrol | {"requestId": "e-2"}, headers=h)
    assert r.json()["data"]["issuedBadges"][0]["error"]["code"] == 1040


async def test_permissions_and_org_scoping(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    other = await setup(ctx, org_id=200, prefix="o2-")
    badge = await create_badge(client, t)
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=t.headers("reader"))
    assert r.status_code == 403
    assert (await client.get(f"{B}/badgeMeta/{badge['id']}", headers=t.headers("nobody"))).status_code == 403
    assert (await client.get(f"{B}/badgeMeta/{badge['id']}", headers=t.headers("reader"))).status_code == 200
    r = await client.get(f"{B}/badgeMeta/{badge['id']}", headers=other.headers("o2-writer"))
    assert r.status_code == 404 and "Five" not in r.text
    r = await client.post(f"{B}/customer/earn", json=earn_body(badge["id"]), headers=other.headers("o2-writer"))
    assert r.status_code == 404
    r = await client.get(f"{B}/badgeMeta", headers=other.headers("o2-writer"))
    assert r.json()["data"]["metaBasicDetails"] == []


async def test_org_header_must_match_and_bulk_earns_emit_events(client: httpx.AsyncClient, ctx: AppContext) -> None:
    t = await setup(ctx)
    badge = await create_badge(client, t)
    wrong = {**t.headers("writer"), "X-CAP-API-AUTH-ORG-ID": "999"}
    assert (await client.get(f"{B}/badgeMeta", headers=wrong)).status_code == 403
    body = {**earn_body(badge["id"], None, "b-1"), "customerIds": [1, "2", 404]}
    r = await client.post(f"{B}/customer/earnBulk", json=body, headers=t.headers("writer"))
    items = r.json()["data"]["issuedBadges"]
    assert [i["customerId"] for i in items] == [1, 2, 404] and items[2]["error"]["code"] == 1026
    assert all(i["status"] == "LIVE" for i in items) and items[0]["issuedId"] == items[0]["earnedBadgeId"]
    async with ctx.db.read() as s:
        events = (await s.scalars(select(OutboxEvent).where(OutboxEvent.event_name == "badgeEarned"))).all()
    assert sorted(e.payload["data"]["customerId"] for e in events) == [1, 2]
    r = await client.get(
        f"{B}/management/c1@100.test/badge/{badge['id']}",
        headers={**t.headers("reader"), "X-CAP-CUSTOMER-IDENTIFIER": "email"},
    )
    assert r.status_code == 200 and r.json()["data"]["customerId"] == 1
    assert r.json()["data"]["earnDetails"]["earnCount"] == 1
