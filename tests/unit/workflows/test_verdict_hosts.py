"""Pure units: the downstream verdict, the retry schedule, the host allow-list and auto-approval rules."""

from __future__ import annotations

import random
from typing import Any

import pytest

from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.hosts import HostError, is_allowed, normalise_base_url, route_for
from foureyes.workflows.types import lookup
from foureyes.workflows.validation import auto_approves
from foureyes.workflows.verdict import backoff_seconds, judge


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"data": {}, "errors": [], "warnings": []}, "success"),
        (201, {"createdId": 38, "warnings": []}, "success"),
        (204, "", "success"),
        (200, {"warnings": []}, "success"),
        (200, {"errors": [{"code": 1}]}, "permanent"),
        (200, {"errors": {"x": 1}}, "permanent"),
        (200, {"success": False}, "permanent"),
        (200, {"success": "false"}, "permanent"),
        (200, {"success": " FALSE "}, "permanent"),
        (200, {"response": {"status": {"success": "false"}}}, "permanent"),
        (200, [{"ok": 1}, {"success": "false"}], "permanent"),
        (200, {"success": "true", "errors": []}, "success"),
        (400, {"data": {"earnedBadgeId": "x"}, "errors": [{"code": 809}]}, "success"),
        (400, {"data": None, "errors": [{"code": 809}]}, "permanent"),
        (409, {"data": {"x": 1}, "errors": [{"code": 809}]}, "permanent"),
        (400, {"errors": [{"code": 1026}]}, "permanent"),
        (401, None, "permanent"),
        (404, "not found", "permanent"),
        (302, None, "permanent"),
        (408, None, "transient"),
        (429, None, "transient"),
        (500, None, "transient"),
        (503, {"errors": [{"code": 1}]}, "transient"),
    ],
)
def test_judge(status: int, body: Any, outcome: str) -> None:
    assert judge(status, body).outcome == outcome


def test_deeply_nested_failure_does_not_recurse_forever() -> None:
    body: Any = {"ok": 1}
    for _ in range(500):
        body = {"inner": body}
    assert judge(200, body).outcome == "success"


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    rng = random.Random(7)
    for attempt in range(1, 9):
        step = min(30 * 2 ** (attempt - 1), 1800)
        for _ in range(50):
            value = backoff_seconds(attempt, 30, rng)
            assert 0.5 * step <= value <= 1.5 * step
    assert backoff_seconds(40, 30, rng) <= 2700
    values = {backoff_seconds(3, 30, rng) for _ in range(20)}
    assert len(values) > 1  # jittered


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://API.Example.com", "https://api.example.com"),
        ("https://api.example.com:443/", "https://api.example.com"),
        ("http://api.example.com:80", "http://api.example.com"),
        ("http://api.example.com:8080", "http://api.example.com:8080"),
        ("https://api.example.com.", "https://api.example.com"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_base_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "api.example.com",
        "ftp://api.example.com",
        "https://u:p@api.example.com",
        "https://api.example.com@evil.com",
        "https://api.example.com/x",
        "https://api.example.com?x",
        "https://api.example.com#x",
        "https://api.example.com:99999",
        "https://api.exa mple.com",
        "https://api.example.com\n",
        "http://127.0.0.1",
        "http://2130706433",
        "http://0x7f000001",
        "http://0177.0.0.1",
        "http://[::1]",
        "http://[::ffff:127.0.0.1]",
    ],
)
def test_unsafe_hostnames_refused(raw: str) -> None:
    with pytest.raises(HostError):
        normalise_base_url(raw)


def test_is_allowed_exact_match_only() -> None:
    allowed = ["https://api.example.com", "http://10.0.0.5:1900"]
    assert is_allowed("HTTPS://api.example.com:443", allowed)[0]
    assert not is_allowed("https://api.example.com.evil.com", allowed)[0]
    assert not is_allowed("https://evil.api.example.com", allowed)[0]
    assert not is_allowed("http://api.example.com", allowed)[0]  # scheme matters
    assert not is_allowed("https://api.example.com:8443", allowed)[0]  # port matters
    # An operator may allow-list an IP; a caller may then name exactly it, nothing near it.
    assert is_allowed("http://10.0.0.5:1900", allowed)[0]
    assert not is_allowed("http://10.0.0.6:1900", allowed)[0]
    assert not is_allowed("https://api.example.com", [])[0]


def test_route_for() -> None:
    routes = {"https://api.example.com": "http://127.0.0.1:8000"}
    assert route_for("https://api.example.com", routes) == "http://127.0.0.1:8000"
    assert route_for("https://other.example.com", routes) == "https://other.example.com"


def _task(points: Any) -> dict[str, Any]:
    return {"body": {"points": points, "reason": "x"}}


@pytest.mark.parametrize(
    ("rules", "points", "expected"),
    [
        ([{"path": "body.points", "op": "<=", "value": 100}], 50, True),
        ([{"path": "body.points", "op": "<=", "value": 100}], 100, True),
        ([{"path": "body.points", "op": "<=", "value": 100}], 500, False),
        ([{"path": "body.points", "op": "<=", "value": 100}], "50", True),
        ([{"path": "body.points", "op": "<=", "value": 100}], "lots", False),
        ([{"path": "body.points", "op": "<=", "value": 100}], None, False),
        ([{"path": "body.missing", "op": "<=", "value": 100}], 50, False),
        ([{"path": "body.reason", "op": "==", "value": "x"}], 50, True),
        ([{"path": "body.points", "op": ">", "value": 10}, {"path": "body.points", "op": "<", "value": 0}], 5, False),
        ([], 1, False),
    ],
)
def test_auto_approve_rules(rules: list[dict[str, Any]], points: Any, expected: bool) -> None:
    config = WorkflowConfig.model_validate({"autoApproveRules": rules})
    assert auto_approves(config, _task(points)) is expected


def test_type_lookup_spellings() -> None:
    for name in ("EARN-BADGE", "earn-badge", "EARN_BADGE", " earn_badge "):
        found = lookup(name)
        assert found is not None and found.name == "EARN-BADGE"
    assert lookup("EARN") is None
