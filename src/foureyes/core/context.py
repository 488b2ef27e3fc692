"""The long-lived objects of one process, built once from Settings and shared by routes, CLI and workers."""

from __future__ import annotations

from dataclasses import dataclass, field

from foureyes.core.clock import Clock, SystemClock
from foureyes.core.database import Database
from foureyes.core.metrics import Metrics
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

    async def close(self) -> None:
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
