"""The console in a real browser: maker raises, a second user approves, the badge shows on the customer; a
maker cannot approve their own request; another org's checker sees nothing; no JavaScript needed to decide."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    BADGE_ID,
    CUSTOMER_ID,
    PASSWORD,
    TILL,
    assert_accessible,
    request_id_of,
    shot,
    sign_in,
)


def raise_earn_badge(page: Page, base_url: str, reference: str, screenshot: bool = False) -> str:
    """As the signed-in maker: fill the EARN-BADGE form with the pickers and submit it."""
    page.goto(f"{base_url}/console/requests/new?type=EARN-BADGE")
    page.get_by_label("Org unit (till)").select_option(TILL)
    page.get_by_label("Badge", exact=True).select_option(BADGE_ID)
    page.get_by_label("Owner reference id").fill(reference)
    page.get_by_label("Look up by").select_option("mobile")
    page.get_by_label("Customer", exact=True).fill("919999999999")
    expect(page.locator("#customer-preview")).to_contain_text(str(CUSTOMER_ID))  # htmx look-up while typing
    page.get_by_label("Till username").fill("ab124")
    page.get_by_label("Till password").fill(PASSWORD)
    if screenshot:
        assert_accessible(page)
        shot(page, "maker-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Raise request").click()
    assert "/console/requests/new" not in page.url, page.locator("main").inner_text()
    return request_id_of(page.url)


def test_maker_raises_checker_approves_and_the_badge_shows(browser: Browser, base_url: str) -> None:
    maker = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    maker.goto(f"{base_url}/console/inbox")
    expect(maker).to_have_url(re.compile(r".*/console/login\?next=.*"))
    assert_accessible(maker)
    shot(maker, "login")
    sign_in(maker, base_url, "maker@demo.test")
    request_id = raise_earn_badge(maker, base_url, "123", screenshot=True)
    expect(maker.get_by_role("status")).to_contain_text("waiting for a checker")
    expect(maker.get_by_text("customer holds 0 of 5 allowed this week")).to_be_visible()
    expect(maker.get_by_text("badge is LIVE", exact=False)).to_be_visible()
    expect(maker.get_by_role("button", name="Approve")).to_have_count(0)
    expect(maker.locator("table.kv")).to_contain_text("Basic ****")

    # The checker has the inbox open; the maker raises a second request; it appears without a reload.
    checker = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(checker, base_url, "checker@demo.test")
    expect(checker).to_have_url(re.compile(r".*/console/inbox$"))
    expect(checker.get_by_role("link", name=re.compile(request_id))).to_have_count(1)
    second = raise_earn_badge(maker, base_url, "123")
    expect(checker.get_by_role("link", name=re.compile(second))).to_have_count(1, timeout=12_000)
    assert_accessible(checker)
    shot(checker, "inbox")

    checker.get_by_role("link", name=re.compile(request_id)).click()
    expect(checker.get_by_role("button", name="Approve")).to_be_visible()
    expect(checker.get_by_text("maker@demo.test").first).to_be_visible()
    assert_accessible(checker)
    shot(checker, "request-pending")
    checker.get_by_label(re.compile("Message to the maker")).fill("Thanks, well deserved")
    checker.get_by_role("button", name="Approve").click()
    expect(checker.get_by_role("status")).to_contain_text("Approved")
    expect(checker.locator("h1")).to_contain_text("Approved and executed")
    expect(checker.get_by_text("HTTP 200")).to_be_visible()
    shot(checker, "request-approved")

    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, base_url, "admin@demo.test")
    admin.goto(f"{base_url}/console/customers/badges?customer_name=id&customer_value={CUSTOMER_ID}")
    expect(admin.locator("section", has=admin.get_by_role("heading", name="Earned"))).to_contain_text("Goodwill star")
    assert_accessible(admin)
    shot(admin, "customer-badges")
    admin.goto(f"{base_url}/console/badges")
    expect(admin.get_by_role("link", name="Goodwill star")).to_be_visible()
    assert_accessible(admin)
    shot(admin, "badges")
    admin.get_by_role("link", name="Goodwill star").click()
    expect(admin.get_by_label("At most (earns)").first).to_have_value("5")
    assert_accessible(admin)
    shot(admin, "badge-edit")
    admin.goto(f"{base_url}/console/settings?type=EARN-BADGE")
    expect(admin.get_by_label(re.compile("Allowed hosts"))).to_have_value(base_url)
    assert_accessible(admin)
    shot(admin, "settings")
    for page in (maker, checker, admin):
        page.context.close()


def test_a_maker_cannot_approve_their_own_request(browser: Browser, base_url: str) -> None:
    context = browser.new_context()
    lead = context.new_page()
    sign_in(lead, base_url, "lead@demo.test")  # holds CanMakeRequest and CanCheckRequest
    request_id = raise_earn_badge(lead, base_url, "123")
    expect(lead.get_by_role("button", name="Approve")).to_have_count(0)
    expect(lead.get_by_text("another checker must decide it")).to_be_visible()
    token = lead.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = context.request.post(
        f"{base_url}/console/requests/{request_id}/decide",
        form={"csrf_token": token or "", "decision": "approved", "message": "self"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "The maker of a request cannot decide it" in answer.text()
    lead.reload()
    expect(lead.locator("h1")).to_contain_text("Pending approval")
    context.close()


def test_a_checker_of_another_org_sees_nothing(browser: Browser, base_url: str) -> None:
    maker = browser.new_context().new_page()
    sign_in(maker, base_url, "maker@demo.test")
    request_id = raise_earn_badge(maker, base_url, "123")
    other = browser.new_context().new_page()
    sign_in(other, base_url, "other@other.test")
    other.goto(f"{base_url}/console/inbox?states=")
    expect(other.get_by_text("No requests match.")).to_be_visible()
    answer = other.goto(f"{base_url}/console/requests/{request_id}")
    assert answer is not None and answer.status == 404
    expect(other.locator("main")).not_to_contain_text("maker@demo.test")
    other.goto(f"{base_url}/console/badges")
    expect(other.locator("h1")).to_contain_text("Not allowed")
    maker.context.close()
    other.context.close()


def test_approve_and_reject_work_without_javascript(browser: Browser, base_url: str) -> None:
    maker = browser.new_context().new_page()
    sign_in(maker, base_url, "maker@demo.test")
    first, second = raise_earn_badge(maker, base_url, "123"), None
    maker.goto(f"{base_url}/console/requests/new?type=CUSTOMER-STATUS-CHANGE")
    maker.get_by_label("Org unit (till)").select_option(TILL)
    maker.get_by_label("Identifier", exact=True).fill("919999999999")
    maker.get_by_label("New status").select_option("Suspended")
    maker.get_by_label("Reason").fill("duplicate account")
    maker.get_by_role("button", name="Raise request").click()
    maker.wait_for_url(re.compile(r".*/console/requests/[0-9a-f-]{36}.*"))
    second = request_id_of(maker.url)

    no_js: Any = browser.new_context(java_script_enabled=False)
    checker = no_js.new_page()
    sign_in(checker, base_url, "checker@demo.test")
    checker.goto(f"{base_url}/console/requests/{second}")
    checker.get_by_role("button", name="Reject").click()
    expect(checker.locator(".errors")).to_contain_text("Say why you reject")
    checker.get_by_label(re.compile("Message to the maker")).fill("Not a duplicate")
    checker.get_by_role("button", name="Reject").click()
    expect(checker.locator("h1")).to_contain_text("Rejected")
    checker.goto(f"{base_url}/console/requests/{first}")
    checker.get_by_role("button", name="Approve").click()
    expect(checker.locator("h1")).to_contain_text("Approved and executed")
    no_js.close()
    maker.context.close()


def test_the_inbox_works_on_a_phone(browser: Browser, base_url: str) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    sign_in(phone, base_url, "checker@demo.test")
    phone.goto(f"{base_url}/console/inbox?states=")
    expect(phone.get_by_role("navigation", name="Main")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    shot(phone, "inbox-phone", full_page=False)
    phone.context.close()
