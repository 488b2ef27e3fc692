"""Console sessions: a signed, expiring cookie naming the user, and the CSRF token bound to it.

The cookie is stateless (HMAC-SHA256 over a small JSON document) with a key derived from the server secret, so
it cannot be forged or extended; every page still reloads the user's grants, so a deactivated user or a
revoked permission takes effect on the next click. The CSRF token lives inside the signed cookie (which
scripts cannot read: HttpOnly) and must come back in each form, so a cross-site form post cannot supply it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "foureyes_console"
LOGIN_CSRF_COOKIE = "foureyes_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_KEY_LABEL = b"foureyes-console-session-v1"


@dataclass(frozen=True)
class Session:
    user_id: int
    org_id: int
    csrf: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Issues and verifies session cookies; `now` is epoch seconds (callers pass the app clock)."""

    def __init__(self, server_secret: str, ttl_seconds: int) -> None:
        self._key = hmac.new(server_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, user_id: int, org_id: int, now: int) -> tuple[str, Session]:
        session = Session(user_id, org_id, secrets.token_urlsafe(32), now + self.ttl_seconds)
        doc = {"u": user_id, "o": org_id, "c": session.csrf, "e": session.expires_at}
        body = _b64(json.dumps(doc, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}", session

    def read(self, value: str | None, now: int) -> Session | None:
        """The session when the cookie is intact and unexpired; None for anything else."""
        if not value or len(value) > 1000 or "." not in value:
            return None
        body, _, signature = value.partition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            doc = json.loads(_unb64(body))
            session = Session(int(doc["u"]), int(doc["o"]), str(doc["c"]), int(doc["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires_at > now else None


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison that refuses empty tokens."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(32)
