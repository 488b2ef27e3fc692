"""Browser tests: a real `foureyes serve` on a free 127.0.0.1 port with its own SQLite data directory, seeded with
`foureyes seed`, driven by Playwright through Debian's /usr/bin/chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.cluster.procs import Proc, base_env, free_port, run_cli, write_json

CHROMIUM = Path("/usr/bin/chromium")
# The README's pictures are refreshed on purpose (`make screenshots`), not by every test run: a run that is not
# asked to keeps its shots in a temporary directory, so the suite never dirties the checkout.
README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = (
    README_SCREENSHOTS
    if os.environ.get("FOUREYES_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "foureyes-screenshots"
)
PASSWORD = "browser-pass-1"
CONCEPT, ZONE, STORE, TILL = "50678331", "50682286", "50682288", "50682289"
BADGE_ID = "658c50761c4c2b12732c3ec6"
CUSTOMER_ID = 382477526

if not CHROMIUM.exists():  # `make test` installs it (make browser-deps); a bare checkout skips instead of failing
    pytest.skip("Debian chromium is not installed (run `make browser-deps`)", allow_module_level=True)


def _user(name: str, *perms: str, kind: str = "intouch") -> dict[str, Any]:
    grants = [{"name": p.split("@")[0], "unit": p.split("@")[1] if "@" in p else None} for p in perms]
    return {"username": name, "password": PASSWORD, "kind": kind, "permissions": grants}


def tenant_file(base_url: str) -> dict[str, Any]:
    """Two orgs: the first with makers, checkers, admins, a till, a customer and a claimed live badge."""
    units = [{"kind": "concept", "id": CONCEPT, "name": "Main concept", "children": [
        {"kind": "zone", "id": ZONE, "name": "North zone", "children": [
            {"kind": "store", "id": STORE, "name": "High Street", "children": [
                {"kind": "till", "id": TILL, "name": "Till 1"}]}]}]}]  # fmt: skip
    flows = {t: {"allowedHosts": [base_url]} for t in ("EARN-BADGE", "ISSUE-BADGE", "CUSTOMER-STATUS-CHANGE")}
    badge_meta = {
        "name": "Goodwill star", "description": "Given by customer care", "startOn": "2024-01-01T00:00:00Z",
        "expiresOn": "2099-12-31T00:00:00Z", "earnType": "EARN", "active": True,
        "earnedBadgeExpiry": {"expiryType": "NEVER"}, "ownership": {"restrictedToOwners": ["Goodwill_Module"]},
        "customerConstraints": [{"constraintType": "CUSTOMER_BADGE_FIXED_WINDOW", "maxEarnLimit": 5,
                                 "durationType": "WEEKS", "refreshRate": 1, "startDayOfTheWeek": 1}],
        "badgeConstraints": [],
    }  # fmt: skip
    first = {
        "id": 1, "name": "Demo Retail", "units": units, "workflows": flows,
        "users": [
            _user("maker@demo.test", "CanMakeRequest"),
            _user("checker@demo.test", "CanCheckRequest"),
            _user("lead@demo.test", "CanMakeRequest", "CanCheckRequest"),
            _user("admin@demo.test", "CanConfigureWorkflows", "BadgesRead", "BadgesWrite"),
            _user("ab124", "BadgesRead", "BadgesWrite", "CustomersWrite", kind="till"),
        ],
        "customers": [{"id": CUSTOMER_ID, "mobile": "919999999999", "email": "asha@demo.test",
                       "firstname": "Asha", "lastname": "Rao"}],
        "badges": [{"id": BADGE_ID, "meta": badge_meta,
                    "claims": [{"ownerType": "Goodwill_Module", "referenceId": "123"}]}],
    }  # fmt: skip
    other_units = [{"kind": "concept", "id": "90000001", "name": "Other concept", "children": [
        {"kind": "zone", "id": "90000002", "children": [{"kind": "store", "id": "90000003", "children": [
            {"kind": "till", "id": "90000004"}]}]}]}]  # fmt: skip
    second = {"id": 2, "name": "Other Retail", "units": other_units,
              "users": [_user("other@other.test", "CanCheckRequest", "CanMakeRequest")]}  # fmt: skip
    return {"orgs": [first, second]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    # Module scope: the server (and its worker loop) stops once the browser tests are done.
    tmp = tmp_path_factory.mktemp("browser-server")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = base_env(tmp / "data", None, port=port, public_base_url=base_url, decision_wait_seconds=15)
    for args in (("db", "upgrade"), ("seed", str(write_json(tmp / "tenant.json", tenant_file(base_url))))):
        done = run_cli(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    proc = Proc("console", ["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp / "server.log", port=port)
    proc.start().wait_ready()
    yield proc
    proc.terminate()


@pytest.fixture(scope="module")
def base_url(server: Proc) -> str:
    return server.base_url


LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Our own Playwright per module instead of pytest-playwright's session-wide one: the sync API keeps an
    event loop running in the main thread while it lives, which would break every async test that runs after."""
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot (docs/screenshots/<name>.png under `make screenshots`, else a temporary directory)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => {
    if (e.tagName === 'BUTTON') return !e.textContent.trim() && !e.getAttribute('aria-label');
    const byFor = e.id && document.querySelector(`label[for="${e.id}"]`);
    return !(byFor || e.closest('label') || e.getAttribute('aria-label'));
  })
  .map(e => e.outerHTML.slice(0, 120))"""


def assert_accessible(page: Any) -> None:
    """Every visible control has a label (or text), and the page has its landmarks and one h1."""
    assert page.evaluate(UNLABELLED) == []
    for selector in ("header[role=banner]", "main#main", "footer", "a.skip[href='#main']"):
        assert page.locator(selector).count() == 1, selector
    assert page.locator("h1").count() == 1


def sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/console/login" not in page.url, page.content()[:2000]


def request_id_of(url: str) -> str:
    found = re.search(r"/console/requests/([0-9a-f-]{36})", url)
    assert found, url
    return found.group(1)
