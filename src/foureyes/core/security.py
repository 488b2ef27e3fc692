"""Passwords, tokens and secrets at rest.

- Passwords: the documented till style sends either the password or its lowercase MD5 hex, so we store
  Argon2id(md5hex(password)) and accept both forms. Argon2 runs in a small thread pool (it holds ~64 MB
  and a core per call); successful verifications are cached briefly by a keyed hash of the header, shared by
  concurrent callers and renewed in the background while a client keeps calling (VerificationCache).
- JWTs: HS256 only, pinned at decode; `exp`, `iat`, `iss`, `aud`, `sub`, `org`, `jti` always required.
- Secrets: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the server secret.
- Outbound HTTP clients keep no cookies (`no_cookies`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

JWT_ALGORITHM = "HS256"
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
_hasher = PasswordHash((Argon2Hasher(),))


def configure_hasher(memory_cost_kib: int, time_cost: int) -> None:
    """Set Argon2 cost once per process (tests lower it; production keeps the defaults)."""
    global _hasher
    _hasher = PasswordHash((Argon2Hasher(memory_cost=memory_cost_kib, time_cost=time_cost),))


_argon_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


def md5_hex(value: str) -> str:
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()


def hash_password(password: str) -> str:
    """Argon2id of the password's MD5 hex (so either form can be verified later)."""
    return _hasher.hash(md5_hex(password))


def verify_secret(secret: str, stored_hash: str) -> bool:
    """True when `secret` is the password or its lowercase MD5 hex."""
    candidates = [md5_hex(secret)]
    if _MD5_HEX.match(secret):
        candidates.insert(0, secret)
    return any(_safe_verify(c, stored_hash) for c in candidates)


def _safe_verify(candidate: str, stored_hash: str) -> bool:
    try:
        return _hasher.verify(candidate, stored_hash)
    except Exception:
        return False


async def verify_secret_async(secret: str, stored_hash: str) -> bool:
    """verify_secret off the event loop, in the bounded Argon2 pool."""
    return await asyncio.get_running_loop().run_in_executor(_argon_pool, verify_secret, secret, stored_hash)


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_argon_pool, hash_password, password)


class VerificationCache:
    """Remembers recent successful Basic verifications, keyed by an HMAC of the header; runs one Argon2
    verification for all concurrent callers presenting the same header, and renews a busy client's entry in
    the background before it runs out.

    The value is the stored hash at verification time, so changing the password invalidates the entry.
    """

    RENEW_IN_LAST = 0.25  # of the TTL: a hit this close to the entry's end re-verifies in the background

    def __init__(
        self, key: bytes, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._max = max_entries
        self.clock = clock
        self._entries: dict[bytes, tuple[float, str]] = {}
        self._running: dict[tuple[bytes, str], asyncio.Future[bool]] = {}

    async def verify(self, header: str, secret: str, stored_hash: str) -> bool:
        """Argon2-verify `secret` (from `header`) against `stored_hash`, remembering a success for the TTL.

        Concurrent callers with the same header and hash share one verification. Without this, every request
        that arrived while a busy client's entry was being renewed ran its own Argon2 (64 MiB and ~0.25 s of
        CPU each, two at a time): at 20 workflows/s the queue of verifications took the server past its
        capacity for seconds every TTL (docs/performance.md, "Latency against offered load"). The shared
        verification runs as its own task, so a caller that gives up does not cancel it for the others.
        """
        if self.hit(header, stored_hash):
            return True  # a concurrent caller's verification finished after this caller looked
        return await asyncio.shield(self._shared(header, secret, stored_hash))

    def renew_if_ending(self, header: str, secret: str, stored_hash: str) -> None:
        """After a hit: when the entry is in the last quarter of its life, verify the same secret against the
        same hash again in the background. A client that keeps calling then never waits for Argon2 (~0.16 s)
        on a request; the entry still holds only what a fresh verification proved, and one that is not used
        runs out as before."""
        entry = self._entries.get(self._digest(header))
        if entry is not None and 0 < entry[0] - self.clock() < self._ttl * self.RENEW_IN_LAST:
            self._shared(header, secret, stored_hash)

    def _shared(self, header: str, secret: str, stored_hash: str) -> asyncio.Future[bool]:
        key = (self._digest(header), stored_hash)
        running = self._running.get(key)
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = asyncio.ensure_future(self._verify_and_remember(header, secret, stored_hash))
            self._running[key] = running
            running.add_done_callback(lambda done: self._forget_running(key, done))
        return running

    async def _verify_and_remember(self, header: str, secret: str, stored_hash: str) -> bool:
        # Remembered before the shared future completes, so no caller sees it gone and the entry missing.
        ok = await verify_secret_async(secret, stored_hash)
        if ok:
            self.remember(header, stored_hash)
        return ok

    def _forget_running(self, key: tuple[bytes, str], done: asyncio.Future[bool]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # a background renewal nobody awaits must not log "exception never retrieved"

    def _digest(self, header: str) -> bytes:
        return hmac.new(self._key, header.encode(), hashlib.sha256).digest()

    def hit(self, header: str, stored_hash: str) -> bool:
        entry = self._entries.get(self._digest(header))
        return entry is not None and entry[0] > self.clock() and hmac.compare_digest(entry[1], stored_hash)

    def remember(self, header: str, stored_hash: str) -> None:
        if len(self._entries) >= self._max:
            now = self.clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[self._digest(header)] = (self.clock() + self._ttl, stored_hash)


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    org_id: int
    audience: str
    token_id: str
    expires_at: int


class TokenService:
    """Issues and checks the OAuth and UI-token JWTs."""

    def __init__(self, secret: str, issuer: str) -> None:
        self._key = hashlib.sha256(b"foureyes-jwt:" + secret.encode()).digest()
        self._issuer = issuer

    def issue(self, *, subject: str, org_id: int, audience: str, ttl_seconds: int) -> str:
        now = int(time.time())
        claims = {
            "sub": subject,
            "org": org_id,
            "aud": audience,
            "iss": self._issuer,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def verify(self, token: str, *, audience: str) -> TokenClaims | None:
        """The claims of a valid token for `audience`, or None for anything forged, expired or foreign."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                audience=audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "org", "jti"]},
            )
        except jwt.PyJWTError:
            return None
        org = claims.get("org")
        if not isinstance(org, int) or not isinstance(claims.get("sub"), str):
            return None
        return TokenClaims(claims["sub"], org, audience, str(claims["jti"]), int(claims["exp"]))


class SecretBox:
    """Encrypts small secrets (downstream credentials, webhook secrets) at rest."""

    PREFIX = "fx1:"

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"foureyes-secretbox:" + secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self.PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(self.PREFIX):
            raise ValueError("not a sealed value")
        try:
            return self._fernet.decrypt(sealed[len(self.PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed value cannot be opened with this key") from exc


_SECRET_HEADER_WORDS = ("authorization", "token", "secret", "signature", "cookie", "key", "password")
# One search instead of a generator over the words: it runs for every key of every log line (core/logging.py).
_SECRET_HEADER = re.compile("|".join(_SECRET_HEADER_WORDS))


def is_secret_header(name: str) -> bool:
    """Whether a header (or log field) named `name` carries a credential: its name contains one of the words."""
    return _SECRET_HEADER.search(name.lower()) is not None


def mask_secret(value: str) -> str:
    """`Basic abc…` → `Basic ****`: the scheme stays readable, the credential never does."""
    parts = value.strip().split(" ", 1)
    if len(parts) == 2 and parts[0].isalpha() and len(parts[0]) <= 10:
        return f"{parts[0]} ****"
    return "****"


def mask_headers(headers: dict[str, Any]) -> dict[str, Any]:
    return {k: (mask_secret(str(v)) if is_secret_header(k) else v) for k, v in headers.items()}


def hmac_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing, for the process's outbound clients (downstream calls, webhooks).

    One client serves every org's calls: a cookie a downstream set while answering one org's request would ride
    on the next call to that host, whichever org it is for (httpx keeps a client-wide jar by default). The API
    calls foureyes makes are authenticated by their own headers and never need a session cookie.
    """
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
