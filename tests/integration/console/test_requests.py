"""The approve/reject path without JavaScript: plain form posts and redirects, on both stores."""

from __future__ import annotations

import httpx

from tests.factories import Tenant
from tests.integration.console.conftest import CUSTOMER, login, page_token, raise_status_change, status_change_form


async def _customer_status(client: httpx.AsyncClient, tenant: Tenant) -> str:
    r = await client.get(
        "/v2/customers/lookup", params={"identifierName": "mobile", "identifierValue": CUSTOMER["mobile"]},
        headers=tenant.headers("ab124"),
    )  # fmt: skip
    return str(r.json()["data"]["status"]["label"])


async def test_maker_raises_checker_approves_without_javascript(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    request_id = await raise_status_change(client)
    mine = await client.get(f"/console/requests/{request_id}?notice=created")
    assert "Pending approval" in mine.text
    assert "waiting for a checker" in mine.text
    assert "Customer 382477526 is Active now; approving sets the status to Suspended." in mine.text
    assert "Basic ****" in mine.text and "ab124" not in mine.text  # the till credentials are masked
    assert 'value="approved"' not in mine.text  # no approve button for the maker

    await login(client, "checker@demo.test")
    inbox = await client.get("/console/inbox")
    assert request_id in inbox.text
    page = await client.get(f"/console/requests/{request_id}")
    assert 'value="approved"' in page.text and "maker@demo.test" in page.text
    token = await page_token(client, f"/console/requests/{request_id}")
    decided = await client.post(
        f"/console/requests/{request_id}/decide", data={"csrf_token": token, "decision": "approved", "message": "ok"}
    )
    assert decided.status_code == 303, decided.text
    assert decided.headers["location"] == f"/console/requests/{request_id}?notice=approved"
    done = await client.get(decided.headers["location"])
    assert "Approved and executed" in done.text
    assert "HTTP 200" in done.text
    assert await _customer_status(client, tenant) == "Suspended"
    assert request_id not in (await client.get("/console/inbox")).text  # no longer pending


async def test_reject_needs_a_message_and_is_shown(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    request_id = await raise_status_change(client)
    await login(client, "checker@demo.test")
    token = await page_token(client, f"/console/requests/{request_id}")
    url = f"/console/requests/{request_id}/decide"
    empty = await client.post(url, data={"csrf_token": token, "decision": "rejected"})
    assert empty.status_code == 400
    assert "Say why you reject" in empty.text
    r = await client.post(
        f"/console/requests/{request_id}/decide",
        data={"csrf_token": token, "decision": "rejected", "message": "wrong customer"},
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Rejected" in page.text and "wrong customer" in page.text
    again = await client.post(
        f"/console/requests/{request_id}/decide", data={"csrf_token": token, "decision": "approved"}
    )
    assert again.status_code == 409
    assert "already rejected" in again.text
    assert await _customer_status(client, tenant) == "Active"


async def test_a_maker_cannot_approve_their_own_request(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "admin@demo.test")  # holds CanMakeRequest and CanCheckRequest
    request_id = await raise_status_change(client)
    page = await client.get(f"/console/requests/{request_id}")
    assert 'value="approved"' not in page.text
    assert "another checker must decide it" in page.text
    token = await page_token(client, f"/console/requests/{request_id}")
    r = await client.post(
        f"/console/requests/{request_id}/decide", data={"csrf_token": token, "decision": "approved", "message": ""}
    )
    assert r.status_code == 403
    assert "The maker of a request cannot decide it" in r.text
    assert await _customer_status(client, tenant) == "Active"


async def test_decisions_need_the_session_csrf_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    request_id = await raise_status_change(client)
    await login(client, "checker@demo.test")
    for data in ({"decision": "approved"}, {"decision": "approved", "csrf_token": "forged"}):
        r = await client.post(f"/console/requests/{request_id}/decide", data=data)
        assert r.status_code == 403
        assert "did not come from this console" in r.text
    # A token from another session does not work either.
    token = await page_token(client, "/console/inbox")
    await login(client, "admin@demo.test")
    r = await client.post(f"/console/requests/{request_id}/decide", data={"decision": "approved", "csrf_token": token})
    assert r.status_code == 403
    assert "Pending approval" in (await client.get(f"/console/requests/{request_id}")).text


async def test_other_orgs_and_other_units_see_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    request_id = await raise_status_change(client)
    for who in ("otherchecker@other.test", "store2checker@demo.test"):
        await login(client, who)
        assert request_id not in (await client.get("/console/inbox?states=")).text
        page = await client.get(f"/console/requests/{request_id}")
        assert page.status_code == 404
        assert "maker@demo.test" not in page.text
        token = await page_token(client, "/console/inbox")
        url = f"/console/requests/{request_id}/decide"
        r = await client.post(url, data={"csrf_token": token, "decision": "approved"})
        assert r.status_code == 404


async def test_maker_cancels_their_pending_request(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    request_id = await raise_status_change(client)
    listed = await client.get("/console/mine")
    assert request_id in listed.text
    token = await page_token(client, f"/console/requests/{request_id}")
    r = await client.post(f"/console/requests/{request_id}/cancel", data={"csrf_token": token, "reason": "typo"})
    assert r.status_code == 303
    assert "Cancelled" in (await client.get(r.headers["location"])).text


async def test_maker_form_errors_are_shown_next_to_the_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    token = await page_token(client, "/console/requests/new?type=CUSTOMER-STATUS-CHANGE")
    r = await client.post(
        "/console/requests/new", data=status_change_form(token, till="", reason="", identifier_value="")
    )
    assert r.status_code == 400
    assert 'id="till-error"' in r.text and 'id="reason-error"' in r.text and 'id="identifier_value-error"' in r.text
    assert "s3cret-pass" not in r.text  # the password is never echoed
    unknown = await client.post("/console/requests/new", data=status_change_form(token, identifier_value="910000"))
    assert unknown.status_code == 400
    assert "Customer not found" in unknown.text
    host = await client.post("/console/requests/new", data=status_change_form(token, hostname="http://10.0.0.1"))
    assert host.status_code == 400
    assert 'id="hostname-error"' in host.text


async def test_inbox_filters_counts_and_fragment(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await login(client, "maker@demo.test")
    first = await raise_status_change(client)
    await login(client, "checker@demo.test")
    inbox = await client.get("/console/inbox")
    assert '<span class="count">1</span> CUSTOMER-STATUS-CHANGE' in inbox.text
    assert 'hx-trigger="every 5s"' in inbox.text
    fragment = await client.get("/console/inbox/results?requestType=EARN-BADGE", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert first not in fragment.text and "No requests match" in fragment.text
    by_type = await client.get("/console/inbox?requestType=CUSTOMER-STATUS-CHANGE&sortOrder=asc")
    assert first in by_type.text
    by_maker = await client.get(f"/console/inbox?userId={tenant.users['admin@demo.test']}")
    assert first not in by_maker.text
    other_store = await client.get("/console/inbox?unit=506822889")
    assert first not in other_store.text
    own_store = await client.get("/console/inbox?unit=50682288")
    assert first in own_store.text and '<option value="50682288" selected>' in own_store.text
    future = await client.get("/console/inbox?startDate=2999-01-01")
    assert first not in future.text
    any_state = await client.get("/console/inbox?states=")
    assert 'hx-get="/console/inbox/results?states=&amp;' in any_state.text or 'results?states="' in any_state.text
    assert (await client.get("/console")).headers["location"] == "/console/inbox"
    by_end = await client.get("/console/inbox?states=&sortBy=endDate")
    assert first in by_end.text and '<option value="endDate" selected>' in by_end.text
    bad = await client.get("/console/inbox?startDate=yesterday")
    assert "startDate must be YYYY-MM-DD" in bad.text
