"""The JSON summary a seed prints: per org, what was created, updated or left unchanged, with ids."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.context import AppContext
from foureyes.tenants.schema import Problem

STATUSES = ("created", "updated", "unchanged")


class Outcome:
    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.orgs: list[dict[str, Any]] = []
        self.counts = dict.fromkeys(STATUSES, 0)
        self.problems: list[Problem] = []

    def org(self, org_id: int, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": org_id, "name": name, "status": None}
        for key in ("units", "users", "clients", "customers", "badges", "workflows"):
            entry[key] = []
        self.orgs.append(entry)
        return entry

    def count(self, status: str) -> str:
        self.counts[status] += 1
        return status

    def new_id(self, value: Any, status: str) -> Any:
        """A server-assigned id; a dry run's would-be-created rows are rolled back, so theirs is null."""
        return None if self.dry_run and status == "created" else value

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def summary(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "counts": dict(self.counts), "orgs": self.orgs}


class Seeder(Protocol):
    """What the per-record apply functions need from the running seed (one session, one outcome)."""

    s: AsyncSession
    ctx: AppContext
    out: Outcome
    actor: str

    async def audit(self, org_id: int, action: str, kind: str, subject: str, data: dict[str, Any]) -> None: ...
