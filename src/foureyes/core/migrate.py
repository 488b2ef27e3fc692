"""Run the Alembic chain programmatically (`foureyes db upgrade`, serve, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from foureyes.core.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to `revision`; creates the SQLite file's directory first."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.resolved_database_url), revision)


def revision(settings: Settings, message: str) -> None:
    command.revision(alembic_config(settings.resolved_database_url), message=message, autogenerate=True)
