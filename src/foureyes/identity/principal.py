"""Who is calling, and what they may do where."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["user", "client"]


@dataclass(frozen=True)
class UnitGrant:
    permission: str
    unit_path: str | None  # None: org-wide

    def covers(self, unit_path: str | None) -> bool:
        if self.unit_path is None:
            return True
        return unit_path is not None and unit_path.startswith(self.unit_path)


@dataclass(frozen=True)
class Principal:
    """An authenticated actor: a user (intouch or till) or an API client, always inside one org."""

    kind: PrincipalKind
    id: int
    org_id: int
    name: str
    user_kind: str | None = None
    grants: tuple[UnitGrant, ...] = field(default_factory=tuple)
    via: str = "basic"

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"

    def holds(self, permission: str) -> bool:
        """The permission is held somewhere in the org (any unit or org-wide)."""
        return any(g.permission == permission for g in self.grants)

    def can(self, permission: str, unit_path: str | None) -> bool:
        """The permission covers `unit_path` (a grant on the unit or an ancestor, or org-wide)."""
        return any(g.permission == permission and g.covers(unit_path) for g in self.grants)

    def scope(self, permission: str) -> list[str] | None:
        """Unit paths this permission covers; None when it is org-wide."""
        paths: list[str] = []
        for g in self.grants:
            if g.permission != permission:
                continue
            if g.unit_path is None:
                return None
            paths.append(g.unit_path)
        return paths
