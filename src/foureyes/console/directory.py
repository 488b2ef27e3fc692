"""Read-only look-ups the console's pickers need: the org's tills, its people, a customer by identifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foureyes.core.context import AppContext
from foureyes.customers.repository import CustomerRepository
from foureyes.identity.principal import Principal
from foureyes.identity.repository import IdentityRepository

IDENTIFIER_NAMES = ("mobile", "email", "externalId", "cardnumber")


@dataclass(frozen=True)
class Till:
    """A till with its full chain: the org-unit choice of a maker form is exactly one of these."""

    till_id: str
    store_id: str
    zone_id: str
    concept_id: str
    label: str
    path: str

    def entity_info(self) -> dict[str, str]:
        return {"tillId": self.till_id, "storeId": self.store_id, "zoneId": self.zone_id, "conceptId": self.concept_id}


@dataclass(frozen=True)
class Unit:
    id: str
    kind: str
    name: str
    path: str
    depth: int


class Directory:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def units(self, principal: Principal) -> list[Unit]:
        """Every org unit of the caller's org, in tree order."""
        async with self.ctx.db.read() as s:
            rows = await IdentityRepository(s).list_units(principal.org_id)
        return [Unit(u.id, u.kind, u.name, u.path, u.path.count("/") - 2) for u in rows]

    async def tills(self, principal: Principal, permission: str = "CanMakeRequest") -> list[Till]:
        """The tills under the units where `permission` is granted (all of them for an org-wide grant)."""
        units = await self.units(principal)
        names = {u.id: u.name for u in units}
        out: list[Till] = []
        for u in units:
            parts = u.path.strip("/").split("/")
            if u.kind != "till" or len(parts) != 4 or not principal.can(permission, u.path):
                continue
            concept, zone, store, till = parts
            label = " › ".join(names.get(p, p) for p in parts)
            out.append(Till(till, store, zone, concept, label, u.path))
        return out

    async def people(self, principal: Principal) -> list[tuple[int, str]]:
        """(user id, username) of the org's users, for the inbox's maker filter."""
        async with self.ctx.db.read() as s:
            rows = await IdentityRepository(s).list_users(principal.org_id)
        return [(u.id, u.username) for u in rows]

    async def customer(self, principal: Principal, name: str, value: str) -> dict[str, Any] | None:
        """The caller's org's customer with this identifier (or numeric id), as a small summary."""
        value = value.strip()[:254]
        if not value:
            return None
        async with self.ctx.db.read() as s:
            repo = CustomerRepository(s)
            if name == "id":
                row = await repo.get(principal.org_id, int(value)) if value.isdigit() and len(value) < 16 else None
            elif name in IDENTIFIER_NAMES:
                row = await repo.by_identifier(principal.org_id, name, value)
            else:
                return None
        if row is None:
            return None
        full_name = " ".join(p for p in (row.first_name, row.last_name) if p)
        return {
            "id": row.id,
            "name": full_name or None,
            "mobile": row.mobile,
            "email": row.email,
            "externalId": row.external_id,
            "status": row.status_label,
        }
