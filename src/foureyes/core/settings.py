"""Settings: one object, read from FOUREYES_* environment variables when asked, never at import time."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of foureyes; see docs/configuration.md for the reference."""

    model_config = SettingsConfigDict(env_prefix="FOUREYES_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./var"), description="Where the SQLite database and the generated secret key live."
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite+aiosqlite:///path or postgresql+psycopg://user@host/db; default SQLite in data_dir.",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs tokens and encrypts secrets; generated once into data_dir when unset."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = Field(
        default=None, description="This server's own base URL; the default allowed downstream host."
    )
    max_body_bytes: int = 1024 * 1024
    oauth_token_ttl_seconds: int = 3600
    ui_token_ttl_seconds: int = 3600
    console_session_ttl_seconds: int = 8 * 3600
    basic_auth_cache_seconds: int = 60
    principal_cache_seconds: float = Field(
        default=5.0,
        description="How long a caller's resolved identity (user or client, org, grants) is reused without SQL.",
    )
    jwt_issuer: str = "foureyes"
    db_pool_size: int = 10
    db_prepared_statements: bool = Field(
        default=True,
        description="PostgreSQL: prepare statements run often on each connection (off for PgBouncer < 1.21).",
    )
    db_echo: bool = False
    log_json: bool = False
    log_level: str = "INFO"
    downstream_timeout_seconds: float = 10.0
    decision_wait_seconds: float = 10.0
    executor_max_attempts: int = 8
    executor_base_backoff_seconds: float = 30.0
    worker_poll_seconds: float = 1.0
    worker_lease_seconds: float = 60.0
    worker_concurrency: int = 8
    worker_grace_seconds: float = Field(
        default=20.0, description="On SIGTERM, how long in-flight jobs may finish before their leases are released."
    )
    webhook_max_attempts: int = 10
    outbox_retention_days: int = Field(
        default=30, description="Settled webhook events older than this are pruned hourly by workers; 0 keeps all."
    )
    worker_metrics_port: int | None = Field(
        default=None, description="`foureyes worker` serves GET /metrics on FOUREYES_HOST at this port when set."
    )
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    login_max_failures: int = 10
    login_lockout_seconds: int = 300

    def warnings(self) -> list[str]:
        """Combinations that work but that an operator most likely did not mean; logged when a worker starts."""
        found = []
        if self.worker_lease_seconds <= self.downstream_timeout_seconds:
            # The lease can run out while its downstream call still waits, so a second worker may start the same
            # job: the idempotency key keeps the effect single, but the timeline shows two attempts at once.
            found.append(
                f"FOUREYES_WORKER_LEASE_SECONDS ({self.worker_lease_seconds:g}) is not longer than "
                f"FOUREYES_DOWNSTREAM_TIMEOUT_SECONDS ({self.downstream_timeout_seconds:g}): a job can be taken over "
                "while its downstream call is still in flight"
            )
        return found

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value and value.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        """The URL actually used: the configured one, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'foureyes.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept (mode 0600) in the data directory."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL so two processes starting together cannot each write a different key.
        try:
            fd = path.open("x")
        except FileExistsError:
            return path.read_text().strip()
        with fd:
            fd.write(key)
        path.chmod(0o600)
        return key

    @property
    def own_base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"
