"""Authentication exactly as contract §3: Basic, OAuth token, UI token; resolved in one place."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from datetime import timedelta

from foureyes.core.clock import utcnow
from foureyes.core.database import Database
from foureyes.core.errors import Forbidden, Unauthorized
from foureyes.core.security import TokenService, VerificationCache, hash_password_async, verify_secret_async
from foureyes.core.settings import Settings
from foureyes.identity.models import ApiClient, User
from foureyes.identity.principal import Principal, UnitGrant
from foureyes.identity.principal_cache import PrincipalCache, generation, invalidate_principals
from foureyes.identity.repository import IdentityRepository

OAUTH_AUDIENCE = "foureyes-api"
UI_AUDIENCE = "foureyes-ui"
UI_TOKEN_HEADER = "x-cap-ui-auth-token"
OAUTH_TOKEN_HEADER = "x-cap-api-oauth-token"


def parse_basic(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, secret = decoded.partition(":")
    if not sep or not username or "\x00" in decoded:
        return None
    return username, secret


class Authenticator:
    """Turns request headers into a Principal, or raises 401."""

    def __init__(self, db: Database, settings: Settings, tokens: TokenService) -> None:
        self.db = db
        self.settings = settings
        self.tokens = tokens
        self.cache = VerificationCache(settings.resolved_secret_key.encode(), settings.basic_auth_cache_seconds)
        # A repeated caller resolves to its Principal without SQL for a few seconds (issue #7).
        self.principals = PrincipalCache(settings.resolved_secret_key.encode(), settings.principal_cache_seconds)
        self._decoy: str | None = None

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        ui_token = (headers.get(UI_TOKEN_HEADER) or "").strip()
        oauth_token = (headers.get(OAUTH_TOKEN_HEADER) or "").strip()
        authorization = (headers.get("authorization") or "").strip()
        if not (ui_token or oauth_token or authorization):
            raise Unauthorized("Authentication required: Basic, X-CAP-API-OAUTH-TOKEN or X-CAP-UI-AUTH-TOKEN")

        base: Principal | None = None
        if oauth_token:
            base = await self.from_oauth(oauth_token)
        elif authorization:
            base = await self.from_basic(authorization)
        if ui_token:
            acting = await self.from_ui_token(ui_token)
            if base is not None and base.org_id != acting.org_id:
                raise Unauthorized("The UI token and the API credentials belong to different orgs")
            return acting
        assert base is not None
        return base

    async def from_basic(self, header: str) -> Principal:
        parsed = parse_basic(header)
        if parsed is None:
            raise Unauthorized("Malformed Basic credentials")
        username, secret = parsed
        # A hit skips the lock-out read too: every failure noted here evicts the username (see _note_failure),
        # so only a caller whose last attempt in this process succeeded is served from memory.
        key = self.principals.basic_key(header)
        hit = self.principals.get(key)
        if hit is not None:
            return hit
        read_generation = generation()
        async with self.db.read() as s:
            repo = IdentityRepository(s)
            user = await repo.user_by_username(username)
            throttle = await repo.throttle(username)
            if throttle and throttle.locked_until and throttle.locked_until > utcnow():
                raise Unauthorized("Too many failed attempts; this account is locked for a few minutes")
            if user is not None and user.active and self.cache.hit(header, user.password_hash):
                principal = await self._user_principal(repo, user, via="basic")
                self.cache.renew_if_ending(header, secret, user.password_hash)
                cached = True
            else:
                cached = False
        if cached:
            # A cached success still proves the password, so it clears earlier failures too.
            if throttle and throttle.failures:
                await self._clear_failures(username)
            self.principals.put(key, principal, read_generation)
            return principal
        # Unknown and inactive users pay one Argon2 verification too, so timing does not reveal which names exist.
        stored = user.password_hash if user is not None and user.active else await self._decoy_hash()
        # One Argon2 run for all concurrent requests with this header; a success is remembered for the TTL.
        ok = await self.cache.verify(header, secret, stored) and user is not None and user.active
        if not ok or user is None:
            await self._note_failure(username)
            raise Unauthorized("Invalid username or password")
        if throttle and throttle.failures:
            await self._clear_failures(username)
        async with self.db.read() as s:
            principal = await self._user_principal(IdentityRepository(s), user, via="basic")
        self.principals.put(key, principal, read_generation)
        return principal

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await hash_password_async(secrets.token_urlsafe(16))
        return self._decoy

    async def check_password(self, username: str, password: str) -> User:
        """The console's login: same rules as Basic, including lock-out."""
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        principal = await self.from_basic(f"Basic {token}")
        async with self.db.read() as s:
            user = await IdentityRepository(s).get_user(principal.org_id, principal.id)
        assert user is not None
        return user

    async def principal_for_user(self, org_id: int, user_id: int) -> Principal | None:
        """The console session's user with today's grants; None once the user is gone or deactivated."""
        key = ("console", org_id, user_id)
        hit = self.principals.get(key)
        if hit is not None:
            return hit
        read_generation = generation()
        async with self.db.read() as s:
            repo = IdentityRepository(s)
            user = await repo.get_user(org_id, user_id)
            if user is None or not user.active:
                return None
            principal = await self._user_principal(repo, user, via="console")
        self.principals.put(key, principal, read_generation)
        return principal

    async def from_oauth(self, token: str) -> Principal:
        claims = self.tokens.verify(token, audience=OAUTH_AUDIENCE)
        if claims is None or not claims.subject.startswith("client:"):
            raise Unauthorized("Invalid or expired OAuth token")
        # The signature and expiry were checked above on every call; only the database read is cached.
        key = ("oauth", claims.subject, claims.org_id)
        hit = self.principals.get(key)
        if hit is not None:
            return hit
        read_generation = generation()
        async with self.db.read() as s:
            repo = IdentityRepository(s)
            client = await repo.get_client(int(claims.subject.split(":", 1)[1]))
            if client is None or not client.active or client.org_id != claims.org_id:
                raise Unauthorized("Invalid or expired OAuth token")
            principal = await self._client_principal(repo, client)
        self.principals.put(key, principal, read_generation)
        return principal

    async def from_ui_token(self, token: str) -> Principal:
        claims = self.tokens.verify(token, audience=UI_AUDIENCE)
        if claims is None or not claims.subject.startswith("user:"):
            raise Unauthorized("Invalid or expired UI token")
        key = ("ui-token", claims.subject, claims.org_id)
        hit = self.principals.get(key)
        if hit is not None:
            return hit
        read_generation = generation()
        async with self.db.read() as s:
            repo = IdentityRepository(s)
            user = await repo.get_user_any_org(int(claims.subject.split(":", 1)[1]))
            if user is None or not user.active or user.org_id != claims.org_id:
                raise Unauthorized("Invalid or expired UI token")
            principal = await self._user_principal(repo, user, via="ui-token")
        self.principals.put(key, principal, read_generation)
        return principal

    async def issue_oauth_token(self, key: str, secret: str) -> tuple[str, int]:
        if "\x00" in key:  # no key contains NUL, and PostgreSQL would refuse to compare it
            raise Unauthorized("Invalid key or secret")
        async with self.db.read() as s:
            client = await IdentityRepository(s).client_by_key(key)
        stored = client.secret_hash if client is not None and client.active else await self._decoy_hash()
        if not await verify_secret_async(secret, stored) or client is None or not client.active:
            raise Unauthorized("Invalid key or secret")
        ttl = self.settings.oauth_token_ttl_seconds
        return self.tokens.issue(
            subject=f"client:{client.id}", org_id=client.org_id, audience=OAUTH_AUDIENCE, ttl_seconds=ttl
        ), ttl

    def issue_ui_token(self, principal: Principal) -> tuple[str, int]:
        if principal.kind != "user" or principal.user_kind != "intouch":
            raise Forbidden("UI tokens are issued to intouch users only")
        if principal.via != "basic":
            # A token must not mint its successor, or a stolen token would live forever.
            raise Forbidden("UI tokens are issued against the user's Basic credentials only")
        ttl = self.settings.ui_token_ttl_seconds
        return self.tokens.issue(
            subject=f"user:{principal.id}", org_id=principal.org_id, audience=UI_AUDIENCE, ttl_seconds=ttl
        ), ttl

    async def _user_principal(self, repo: IdentityRepository, user: User, via: str) -> Principal:
        grants = await repo.grants_with_paths("user", user.id)
        return Principal(
            "user", user.id, user.org_id, user.username, user.kind, tuple(UnitGrant(p, path) for p, path in grants), via
        )

    async def _client_principal(self, repo: IdentityRepository, client: ApiClient) -> Principal:
        grants = await repo.grants_with_paths("client", client.id)
        return Principal(
            "client",
            client.id,
            client.org_id,
            client.key,
            None,
            tuple(UnitGrant(p, path) for p, path in grants),
            "oauth",
        )

    async def _note_failure(self, username: str) -> None:
        locked = False
        async with self.db.write() as s:
            row = await IdentityRepository(s).throttle_for_update(username[:200])
            row.failures += 1
            if row.failures >= self.settings.login_max_failures:
                row.locked_until = utcnow() + timedelta(seconds=self.settings.login_lockout_seconds)
                row.failures = 0
                locked = True
        # After the commit: the username's next success must read the throttle row again (to be refused while
        # locked, and to reset the count). A lock-out also bumps the generation, so a success being resolved
        # right now, which read the row before the lock, is not cached either. Lock-outs are rare.
        self.principals.forget_user(username)
        if locked:
            invalidate_principals()

    async def _clear_failures(self, username: str) -> None:
        async with self.db.write() as s:
            row = await IdentityRepository(s).throttle(username)
            if row is not None:
                row.failures = 0
