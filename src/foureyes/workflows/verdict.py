"""Judging a downstream answer (contract §4 "Downstream verdict") and the retry schedule."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["success", "permanent", "transient"]
DUPLICATE_REQUEST = 809


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str | None = None


def judge(status: int, body: Any) -> Verdict:
    """2xx without errors and without success:false succeeds; 5xx is transient; everything else is final.

    The badges service answers a repeated requestId with 400 809 and the original result in `data`: that is
    the proof an earlier attempt already succeeded, so it counts as success (one effect, not two).
    """
    if status == 400 and _is_duplicate_with_original(body):
        return Verdict("success", "the downstream already applied this requestId (809); original result kept")
    if 500 <= status <= 599 or status in (408, 425, 429):
        return Verdict("transient", f"downstream answered HTTP {status}")
    if not 200 <= status <= 299:
        return Verdict("permanent", f"downstream answered HTTP {status}" + _first_error(body))
    problem = _business_failure(body)
    if problem:
        return Verdict("permanent", problem)
    return Verdict("success")


def _is_duplicate_with_original(body: Any) -> bool:
    if not isinstance(body, dict) or not body.get("data"):
        return False
    errors = body.get("errors") or []
    return any(isinstance(e, dict) and e.get("code") == DUPLICATE_REQUEST for e in errors)


def _business_failure(body: Any, depth: int = 0) -> str | None:
    """Non-empty `errors` or `success:false`, at the root or in items (the points example failed with HTTP 200)."""
    if depth > 6:
        return None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "downstream reported errors" + _first_error(body)
        if isinstance(errors, dict) and errors:
            return "downstream reported errors"
        success = body.get("success")
        if success is False or (isinstance(success, str) and success.strip().lower() == "false"):
            return "downstream reported success:false" + _first_error(body)
        for value in body.values():
            if isinstance(value, dict | list):
                found = _business_failure(value, depth + 1)
                if found:
                    return found
    elif isinstance(body, list):
        for item in body[:100]:
            found = _business_failure(item, depth + 1)
            if found:
                return found
    return None


def _first_error(body: Any) -> str:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code, message = errors[0].get("code"), errors[0].get("message")
            return f": {code} {message}" if code or message else ""
        status = body.get("status")
        if isinstance(status, dict) and status.get("message"):
            return f": {status.get('code')} {status.get('message')}"
    return ""


def backoff_seconds(attempt: int, base: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter around the step: base·2^(n-1)·U(0.5, 1.5), capped at 30 minutes."""
    step = min(base * (2 ** max(attempt - 1, 0)), 1800.0)
    return step * (rng or random).uniform(0.5, 1.5)
