"""The long-lived objects of one process, built once from Settings and shared by routes, CLI and workers."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from foureyes.core.clock import Clock, SystemClock
from foureyes.core.database import Database
from foureyes.core.metrics import Metrics
from foureyes.core.outbound import outbound_client
from foureyes.core.security import SecretBox, TokenService, configure_hasher
from foureyes.core.settings import Settings
from foureyes.identity.auth import Authenticator


@dataclass
class AppContext:
    settings: Settings
    db: Database
    tokens: TokenService
    secret_box: SecretBox
    auth: Authenticator
    metrics: Metrics
    clock: Clock = field(default_factory=SystemClock)
    http: httpx.AsyncClient | None = None
    # Per-process extensions (the executor, …) keyed by name, created lazily by their features.
    extensions: dict[str, object] = field(default_factory=dict)

    @property
    def downstream(self) -> httpx.AsyncClient:
        """One pooled client per process (core.outbound): never follows redirects, ignores proxy environment
        variables and keeps no cookies (one org's call must not carry what a downstream set on another's)."""
        if self.http is None:
            self.http = outbound_client(httpx.Timeout(self.settings.downstream_timeout_seconds, connect=5.0))
        return self.http

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        await self.db.dispose()

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        configure_hasher(settings.argon2_memory_kib, settings.argon2_time_cost)
        db = Database(settings)
        key = settings.resolved_secret_key
        tokens = TokenService(key, settings.jwt_issuer)
        return cls(
            settings=settings,
            db=db,
            tokens=tokens,
            secret_box=SecretBox(key),
            auth=Authenticator(db, settings, tokens),
            metrics=Metrics(),
            clock=clock or SystemClock(),
        )
