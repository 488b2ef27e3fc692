"""Hand-written hostile input: shapes, encodings, injections, SSRF, header injection, tokens, brute force, tenancy.

Each case asserts the precise refusal (status and envelope) and, where it matters, that nothing was stored or
called. The server is a real seeded foureyes on 127.0.0.1 (see live.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.cluster.tenant import UNITS
from tests.hostile.live import ORG, OTHER_ORG, Live, basic

WF = "/api_gateway/v2/request-workflow"
WRONG_KEY = "not-the-real-signing-key-of-this-server"
HOST = "https://crm-nightly-new.cc.capillarytech.com"


@pytest.fixture(scope="module")
def http(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def envelope_error(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    body = r.json()
    assert body["data"] is None and body["errors"], body
    assert all({"code", "message"} <= set(e) for e in body["errors"])
    return dict(body)


def task(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hostname": HOST,
        "path": "/internal/goodwill/",
        "method": "POST",
        "pathParams": {},
        "queryParams": {},
        "body": {"referenceId": "ref-1", "reason": "service recovery", "baseType": "POINTS", "programId": 626,
                 "awardingTillId": UNITS[3], "earningEntityType": "CUSTOMER", "earningEntityId": 1,
                 "points": 5, "source": "API"},
        "headers": {"Authorization": "Basic YWI6Y2Q=", "content-type": "application/json"},
    }  # fmt: skip
    base.update(over)
    return base


def create_body(**over: Any) -> dict[str, Any]:
    concept, zone, store, till = UNITS
    return {
        "entityInfo": {"tillId": till, "storeId": store, "zoneId": zone, "conceptId": concept},
        "payload": {"IntouchAPITask-Payload": task(**over)},
    }


def create(http: httpx.Client, live: Live, body: Any, *, raw: bytes | None = None, org: int = ORG) -> httpx.Response:
    headers = {**live.headers(org), "content-type": "application/json"}
    content = raw if raw is not None else json.dumps(body).encode()
    return http.post(f"{WF}/GOODWILL-POINTS", content=content, headers=headers)


def request_count(http: httpx.Client, live: Live) -> int:
    r = http.get(f"{WF}/requests", params={"Limit": 1}, headers=live.headers())
    assert r.status_code == 200, r.text
    return int(r.json()["pagination"]["totalElements"])


# --- shapes and sizes ----------------------------------------------------------------------------------------
def test_deeply_nested_json_is_refused_not_a_500(http: httpx.Client, live: Live) -> None:
    deep = ("[" * 100_000) + ("]" * 100_000)
    envelope_error(create(http, live, None, raw=deep.encode()), 400, 413, 422)
    # Deep but small, inside an otherwise valid body: the parser must refuse, not recurse into a 500.
    raw = json.dumps(create_body(body="__DEEP__")).replace('"__DEEP__"', '{"a":' * 5_000 + "1" + "}" * 5_000)
    envelope_error(create(http, live, None, raw=raw.encode()), 400, 413, 422)


def test_huge_json_is_refused_with_413(http: httpx.Client, live: Live) -> None:
    huge = create_body(body={"reason": "x" * (2 * 1024 * 1024)})
    envelope_error(create(http, live, huge), 413)


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"[]", b"\"text\"", b"{", b"{\"entityInfo\": 5}", b"\xff\xfe\x00", b"{\"a\":1e999999}",
     json.dumps({"entityInfo": [], "payload": "x"}).encode(),
     json.dumps({"entityInfo": {"tillId": {"$ne": 1}}, "payload": {"IntouchAPITask-Payload": []}}).encode(),
     json.dumps(create_body(method=["POST"])).encode(), json.dumps(create_body(queryParams="a=b")).encode(),
     json.dumps(create_body(headers=[["a", "b"]])).encode(), json.dumps(create_body(path=None)).encode()],
)  # fmt: skip
def test_wrong_types_and_broken_json_get_a_400_envelope(http: httpx.Client, live: Live, raw: bytes) -> None:
    before = request_count(http, live)
    envelope_error(create(http, live, None, raw=raw), 400, 422)
    assert request_count(http, live) == before


@pytest.mark.parametrize(
    "text",
    ["\u0000", "a\u0000b", "\u202eevil\u202c", "\ufeff", "😀" * 300, "\U0010ffff", "e\u0301" * 50, "ǅ" * 10,
     "\ud800", "x" * 100_000],
)  # fmt: skip
def test_unicode_edge_cases_in_messages_never_500(http: httpx.Client, live: Live, text: str) -> None:
    r = create(http, live, None, raw=json.dumps(create_body(body={**task()["body"], "reason": text})).encode())
    assert r.status_code in (200, 400, 413), r.text[:300]
    if r.status_code == 200:
        request_id = r.json()["data"]["requestId"]
        got = http.get(f"{WF}/requests/{request_id}", headers=live.headers())
        assert got.status_code == 200
        assert got.json()["data"]["details"]["IntouchAPITask-Payload"]["body"]["reason"] == text
    else:
        envelope_error(r, 400, 413)


# --- injections ----------------------------------------------------------------------------------------------
INJECTIONS = ["' OR '1'='1", "1; DROP TABLE workflow_requests; --", "\" OR \"\"=\"", "%' --", "1 UNION SELECT 1",
              "{{7*7}}", "${7*7}", "{% raw %}{{config}}{% endraw %}", "<script>alert(1)</script>", "../../etc/passwd",
              "%00", "\\x00", "__proto__"]  # fmt: skip


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_in_ids_and_filters_are_inert(http: httpx.Client, live: Live, evil: str) -> None:
    before = request_count(http, live)
    r = http.get(f"{WF}/requests/{evil}", headers=live.headers())
    assert r.status_code in (400, 404), r.text[:300]
    for param in ("State", "requestType", "makerId", "sortBy", "sortOrder", "PageNo", "Limit", "startDate"):
        listed = http.get(f"{WF}/requests", params={param: evil}, headers=live.headers())
        assert listed.status_code in (200, 400), (param, listed.text[:300])
        if listed.status_code == 200:
            assert listed.json()["pagination"]["totalElements"] <= before
    assert http.get(f"/api_gateway/v1/badges/badgeMeta/{evil}", headers=live.headers()).status_code in (400, 404)
    assert http.get("/v2/customers/lookup", params={"mobile": evil}, headers=live.headers()).status_code in (400, 404)
    assert request_count(http, live) == before  # and the table is still there


def test_template_strings_are_stored_verbatim_never_evaluated(http: httpx.Client, live: Live) -> None:
    for evil in ("{{7*7}}", "${7*7}", "#{7*7}", "<%= 7*7 %>"):
        r = create(http, live, create_body(body={**task()["body"], "reason": evil}))
        assert r.status_code == 200, r.text
        stored = r.json()["data"]["details"]["IntouchAPITask-Payload"]["body"]["reason"]
        assert stored == evil and "49" not in stored


# --- SSRF ----------------------------------------------------------------------------------------------------
SSRF = ["http://127.0.0.1", "http://localhost", "http://localhost.", "http://2130706433", "http://0x7f000001",
        "http://0x7f.1", "http://0177.0.0.1", "http://127.1", "http://[::1]", "http://[::ffff:127.0.0.1]",
        "http://[0:0:0:0:0:0:0:1]", "http://169.254.169.254", "http://0.0.0.0", "http://10.0.0.1",
        "http://metadata.google.internal", "http://evil.example.com", f"{HOST}.evil.com", f"{HOST}@evil.com",
        f"http://user:pass@{HOST[8:]}", f"{HOST}/../admin", f"{HOST}?x=1", f"{HOST}#frag", "file:///etc/passwd",
        "gopher://127.0.0.1:25/", "ftp://crm-nightly-new.cc.capillarytech.com", "//evil.com", "http:/\\evil.com",
        f"{HOST}\r\nHost: evil.com", f"{HOST}:99999", "", " ", "http://"]  # fmt: skip


@pytest.mark.parametrize("hostname", SSRF)
def test_ssrf_hostnames_are_refused_at_creation(http: httpx.Client, live: Live, hostname: str) -> None:
    before = request_count(http, live)
    body = envelope_error(create(http, live, create_body(hostname=hostname)), 400)
    assert any(e.get("reference", "") and "hostname" in e["reference"] for e in body["errors"]), body
    assert request_count(http, live) == before


def test_configuring_a_non_http_allowed_host_is_refused(http: httpx.Client, live: Live) -> None:
    for hosts in (["file:///etc/passwd"], ["gopher://x"], ["http://a b"], [HOST + "/path"]):
        r = http.put(f"{WF}/config/GOODWILL-POINTS", json={"allowedHosts": hosts}, headers=live.headers())
        envelope_error(r, 400, 422)


# --- header injection ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Basic x\r\nX-Evil: 1"}, {"X-Note": "a\nb"}, {"X-Note": "a\rb"}, {"Bad Name": "v"},
     {"X-Evil\r\nInjected": "v"}, {"X-Note": "a\u0000b"}, {"Host": "evil.com"}, {"Content-Length": "0"},
     {"Transfer-Encoding": "chunked"}],
)  # fmt: skip
def test_header_injection_in_downstream_headers_is_refused(
    http: httpx.Client, live: Live, headers: dict[str, str]
) -> None:
    before = request_count(http, live)
    envelope_error(create(http, live, create_body(headers={"content-type": "application/json", **headers})), 400)
    assert request_count(http, live) == before


# --- tokens --------------------------------------------------------------------------------------------------
def ui_token(http: httpx.Client, live: Live, org: int = ORG) -> str:
    r = http.post("/api_gateway/v2/auth/ui-token", headers=live.headers(org))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["accessToken"])


def oauth_token(http: httpx.Client, org: int = ORG) -> str:
    r = http.post("/v3/oauth/token/generate", json={"key": f"client-{org}", "secret": "client-secret-1"})
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["accessToken"])


def test_forged_tokens_are_refused(http: httpx.Client, live: Live) -> None:
    genuine = ui_token(http, live)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    header = jwt.get_unverified_header(genuine)
    forgeries = [
        jwt.encode(claims, WRONG_KEY, algorithm="HS256"),
        jwt.encode({**claims, "org": OTHER_ORG}, WRONG_KEY, algorithm="HS256"),
        jwt.encode(claims, "", algorithm="none"),
        jwt.encode({**claims, "exp": int(time.time()) - 10}, WRONG_KEY, algorithm="HS256"),
        genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),  # tampered signature
        ".".join([genuine.split(".")[0], jwt.utils.base64url_encode(json.dumps({**claims, "org": OTHER_ORG})
                                                                    .encode()).decode(), genuine.split(".")[2]]),
        "", "null", "a.b.c", "x" * 5000,
    ]  # fmt: skip
    assert header["alg"] == "HS256"
    for token in forgeries:
        r = http.get(f"{WF}/requests", headers={"X-CAP-UI-AUTH-TOKEN": token, "X-CAP-API-AUTH-ORG-ID": str(ORG)})
        envelope_error(r, 401)
        r = http.get(f"{WF}/requests", headers={"X-CAP-API-OAUTH-TOKEN": token, "X-CAP-API-AUTH-ORG-ID": str(ORG)})
        envelope_error(r, 401)


def test_replayed_tokens_do_not_cross_orgs_or_kinds(http: httpx.Client, live: Live) -> None:
    ui = ui_token(http, live)
    oauth = oauth_token(http)
    # A genuine token of org A replayed against org B (org header) is refused, never served B's data.
    for header, token in (("X-CAP-UI-AUTH-TOKEN", ui), ("X-CAP-API-OAUTH-TOKEN", oauth)):
        r = http.get(f"{WF}/requests", headers={header: token, "X-CAP-API-AUTH-ORG-ID": str(OTHER_ORG)})
        envelope_error(r, 401, 403)
    # A UI token replayed as an OAuth token (and the reverse) is refused: audiences are pinned.
    org = {"X-CAP-API-AUTH-ORG-ID": str(ORG)}
    envelope_error(http.get(f"{WF}/requests", headers={"X-CAP-API-OAUTH-TOKEN": ui, **org}), 401)
    envelope_error(http.get(f"{WF}/requests", headers={"X-CAP-UI-AUTH-TOKEN": oauth, **org}), 401)
    # A UI token of org A combined with org B's Basic credentials is refused.
    other = {**live.headers(OTHER_ORG), "X-CAP-UI-AUTH-TOKEN": ui}
    envelope_error(http.get(f"{WF}/requests", headers=other), 401, 403)


# --- brute force ---------------------------------------------------------------------------------------------
def test_brute_force_login_locks_the_account(http: httpx.Client, live: Live) -> None:
    victim = "root@other.test"
    wrong = {"Authorization": basic((victim, "guess")), "X-CAP-API-AUTH-ORG-ID": str(OTHER_ORG)}
    for i in range(live.settings.login_max_failures):
        envelope_error(http.get(f"{WF}/requests", headers={**wrong, "Authorization": basic((victim, f"g{i}"))}), 401)
    # Now even the right password is refused until the lock-out passes.
    right = http.get(f"{WF}/requests", headers=live.headers(OTHER_ORG))
    body = envelope_error(right, 401, 429)
    assert "locked" in json.dumps(body).lower()
    # Other accounts are unaffected.
    assert http.get(f"{WF}/requests", headers=live.headers(ORG)).status_code == 200


# --- tenancy -------------------------------------------------------------------------------------------------
def test_cross_org_reads_answer_404(http: httpx.Client, live: Live) -> None:
    created = create(http, live, create_body())
    assert created.status_code == 200, created.text
    request_id = created.json()["data"]["requestId"]
    badge = http.post("/api_gateway/v1/badges/badgeMeta", headers=live.headers(), json={
        "name": f"tenancy-{time.time_ns()}", "description": "d", "startOn": int(time.time()) - 60,
        "expiresOn": int(time.time()) + 86400, "earnType": "EARN", "active": True,
        "earnedBadgeExpiry": {"expiryType": "NEVER"}, "ownership": {"restrictedToOwners": ["Loyalty"]},
        "customerConstraints": [], "badgeConstraints": []})  # fmt: skip
    assert badge.status_code == 200, badge.text
    badge_id = badge.json()["data"]["id"]
    # The other org's user (brute-force test may have locked it: use a token minted before? no: use OAuth).
    other = {"X-CAP-API-OAUTH-TOKEN": oauth_token(http, OTHER_ORG), "X-CAP-API-AUTH-ORG-ID": str(OTHER_ORG)}
    envelope_error(http.get(f"{WF}/requests/{request_id}", headers=other), 404)
    envelope_error(http.get(f"/api_gateway/v1/badges/badgeMeta/{badge_id}", headers=other), 404)
    listed = http.get(f"{WF}/requests", headers=other)
    assert listed.status_code == 200
    assert request_id not in json.dumps(listed.json())
    # And the owner still sees both.
    assert http.get(f"{WF}/requests/{request_id}", headers=live.headers()).status_code == 200
    assert http.get(f"/api_gateway/v1/badges/badgeMeta/{badge_id}", headers=live.headers()).status_code == 200
