"""Badge admin pages (create, edit, claims, activation, a customer's badges) and EARN-BADGE from the console."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import TILL, Tenant
from tests.integration.console.conftest import CUSTOMER, login, page_token


def badge_form(token: str, **extra: object) -> dict[str, object]:
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00")
    ends = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT00:00")
    form: dict[str, object] = {
        "csrf_token": token, "name": "Service hero", "description": "Thanks for your patience", "earnType": "EARN",
        "active": "on", "startOn": today, "expiresOn": ends, "owners": ["Goodwill_Module", "Loyalty"],
        "earned_kind": "RELATIVE", "earned_value": "30", "earned_unit": "DAYS", "issued_kind": "",
        "customer_limit": "FIXED_WINDOW", "customer_max": "2", "customer_every": "1", "customer_unit": "WEEKS",
        "badge_limit": "FIXED_VALUE", "badge_max": "1000",
    }  # fmt: skip
    form.update(extra)
    return form


async def create_badge(client: httpx.AsyncClient, **extra: object) -> str:
    token = await page_token(client, "/console/badges/new")
    r = await client.post("/console/badges/new", data=badge_form(token, **extra))
    assert r.status_code == 303, r.text
    return str(r.headers["location"]).split("/")[-1].split("?")[0]


async def test_badge_admin_creates_edits_and_claims(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("badgeadmin@demo.test", "BadgesWrite", "BadgesRead")
    await login(client, "badgeadmin@demo.test")
    assert (await client.get("/console/")).headers["location"] == "/console/badges"
    badge_id = await create_badge(client)
    page = await client.get(f"/console/badges/{badge_id}?notice=created")
    assert "Badge created." in page.text and "Service hero" in page.text and "LIVE" in page.text
    meta = (await client.get(f"/api_gateway/v1/badges/badgeMeta/{badge_id}", headers=tenant.headers("ab124"))).json()
    data = meta["data"]
    assert data["earnedBadgeExpiry"] == {"expiryType": "RELATIVE", "relativeExpirytype": "DAYS", "value": 30}
    assert data["customerConstraints"][0]["constraintType"] == "CUSTOMER_BADGE_FIXED_WINDOW"
    assert data["customerConstraints"][0]["maxEarnLimit"] == 2
    assert data["badgeConstraints"][0] == {"constraintType": "BADGE_FIXED_VALUE", "maxEarnLimit": 1000}
    assert sorted(data["ownership"]["restrictedToOwners"]) == ["Goodwill_Module", "Loyalty"]

    # Edit: only the limit changes; the start (already live) is sent back exactly as stored.
    token = await page_token(client, f"/console/badges/{badge_id}")
    shown = re.search(r'name="startOn_shown" value="([^"]*)"', page.text)
    was = re.search(r'name="startOn_was" value="([^"]*)"', page.text)
    assert shown and was
    edit = badge_form(token, customer_max="3", startOn=shown.group(1), startOn_shown=shown.group(1),
                      startOn_was=was.group(1))  # fmt: skip
    r = await client.post(f"/console/badges/{badge_id}", data=edit)
    assert r.status_code == 303, r.text
    meta = (await client.get(f"/api_gateway/v1/badges/badgeMeta/{badge_id}", headers=tenant.headers("ab124"))).json()
    assert meta["data"]["customerConstraints"][0]["maxEarnLimit"] == 3

    claim = {"csrf_token": token, "ownerType": "Goodwill_Module", "referenceId": "GW-1"}
    r = await client.post(f"/console/badges/{badge_id}/claim", data=claim)
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Claim added." in page.text and "GW-1" in page.text
    refused = await client.post(f"/console/badges/{badge_id}/claim",
                                data={"csrf_token": token, "ownerType": "Journeys", "referenceId": "J-1"})  # fmt: skip
    assert refused.status_code == 400 and "Owner type is not allowed" in refused.text
    listed = await client.get("/console/badges")
    assert "Service hero" in listed.text and "New badge" in listed.text


async def test_badge_form_errors_are_shown(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("badgeadmin@demo.test", "BadgesWrite", "BadgesRead")
    await login(client, "badgeadmin@demo.test")
    token = await page_token(client, "/console/badges/new")
    r = await client.post("/console/badges/new", data=badge_form(token, owners=[], name="Needs owners"))
    assert r.status_code == 400
    assert 'id="owners-error"' in r.text
    past = await client.post("/console/badges/new", data=badge_form(token, startOn="2001-01-01T00:00"))
    assert past.status_code == 400 and 'id="startOn-error"' in past.text


async def test_badge_pages_follow_permissions(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("reader@demo.test", "BadgesRead")
    await tenant.user("badgeadmin@demo.test", "BadgesWrite", "BadgesRead")
    await login(client, "badgeadmin@demo.test")
    badge_id = await create_badge(client)
    await login(client, "reader@demo.test")
    page = await client.get(f"/console/badges/{badge_id}")
    assert page.status_code == 200 and "Save badge" not in page.text and "<fieldset disabled" in page.text
    assert "New badge" not in (await client.get("/console/badges")).text
    assert (await client.get("/console/badges/new")).status_code == 403
    token = await page_token(client, "/console/badges")
    assert (await client.post(f"/console/badges/{badge_id}/deactivate", data={"csrf_token": token})).status_code == 403
    await login(client, "checker@demo.test")
    assert (await client.get("/console/badges")).status_code == 403


async def test_earn_badge_from_the_console_shows_on_the_customer(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("badgeadmin@demo.test", "BadgesWrite", "BadgesRead")
    await login(client, "badgeadmin@demo.test")
    badge_id = await create_badge(client)
    token = await page_token(client, f"/console/badges/{badge_id}")
    await client.post(f"/console/badges/{badge_id}/claim",
                      data={"csrf_token": token, "ownerType": "Goodwill_Module", "referenceId": "GW-1"})  # fmt: skip

    await login(client, "maker@demo.test")
    form_page = await client.get("/console/requests/new?type=EARN-BADGE")
    assert "Service hero" in form_page.text
    preview = await client.get("/console/customers/find?customer_name=mobile&customer_value=919999999999")
    assert "382477526" in preview.text and "Asha" in preview.text
    token = await page_token(client, "/console/requests/new?type=EARN-BADGE")
    r = await client.post("/console/requests/new", data={
        "csrf_token": token, "type": "EARN-BADGE", "till": TILL, "hostname": "http://testserver", "badge": badge_id,
        "owner_type": "Goodwill_Module", "reference_id": "GW-1", "customer_name": "mobile",
        "customer_value": CUSTOMER["mobile"], "till_username": "ab124", "till_password": "s3cret-pass",
    })  # fmt: skip
    assert r.status_code == 303, r.text
    request_id = r.headers["location"].split("/")[-1].split("?")[0]
    page = await client.get(r.headers["location"])
    assert "Customer 382477526 can earn it now; customer holds 0 of 2 allowed this week" in page.text
    assert "badge is LIVE" in page.text

    await login(client, "checker@demo.test")
    token = await page_token(client, f"/console/requests/{request_id}")
    r = await client.post(f"/console/requests/{request_id}/decide",
                          data={"csrf_token": token, "decision": "approved", "message": "well deserved"})  # fmt: skip
    assert r.status_code == 303
    done = await client.get(r.headers["location"])
    assert "Approved and executed" in done.text and "Earned badge id" in done.text

    await login(client, "badgeadmin@demo.test")
    shown = await client.get("/console/customers/badges?customer_name=mobile&customer_value=919999999999")
    assert shown.status_code == 200
    earned = shown.text.split('id="earned-title"')[1].split('id="avail-title"')[0]
    assert "Service hero" in earned
    unknown = await client.get("/console/customers/badges?customer_name=id&customer_value=1")
    assert "Customer not found" in unknown.text or "not found" in unknown.text.lower()


async def test_issue_badge_from_the_console_enrols_the_customers(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.user("badgeadmin@demo.test", "BadgesWrite", "BadgesRead")
    await login(client, "badgeadmin@demo.test")
    badge_id = await create_badge(client, earnType="ISSUE_EARN", name="Club member", issued_kind="NEVER")
    token = await page_token(client, f"/console/badges/{badge_id}")
    claim = {"csrf_token": token, "ownerType": "Loyalty", "referenceId": "626"}
    assert (await client.post(f"/console/badges/{badge_id}/claim", data=claim)).status_code == 303

    await login(client, "maker@demo.test")
    token = await page_token(client, "/console/requests/new?type=ISSUE-BADGE")
    form = {
        "csrf_token": token, "type": "ISSUE-BADGE", "till": TILL, "hostname": "http://testserver", "badge": badge_id,
        "owner_type": "Loyalty", "reference_id": "626", "customer_name": "id", "customers": "382477526, 999",
        "till_username": "ab124", "till_password": "s3cret-pass",
    }  # fmt: skip
    unknown = await client.post("/console/requests/new", data=form)
    assert unknown.status_code == 400 and "No customer with id &#39;999&#39;" in unknown.text
    r = await client.post("/console/requests/new", data={**form, "customers": "382477526"})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "Customer 382477526: would be enrolled." in page.text
    assert "“Club member”" in page.text
    request_id = r.headers["location"].split("/")[-1].split("?")[0]

    await login(client, "checker@demo.test")
    token = await page_token(client, f"/console/requests/{request_id}")
    decided = await client.post(f"/console/requests/{request_id}/decide",
                                data={"csrf_token": token, "decision": "approved"})  # fmt: skip
    assert "Approved and executed" in (await client.get(decided.headers["location"])).text
    await login(client, "badgeadmin@demo.test")
    shown = await client.get("/console/customers/badges?customer_name=id&customer_value=382477526")
    available = shown.text.split('id="avail-title"')[1]
    assert "Club member" in available and "enrolment ACTIVE" in available
