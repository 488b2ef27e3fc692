"""Builders for tenants, users and credentials used across the tests."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from foureyes.core.context import AppContext
from foureyes.identity.service import GrantSpec, IdentityService

CONCEPT, ZONE, STORE, TILL = "50678331", "50682286", "50682288", "50682289"
PASSWORD = "s3cret-pass"


def basic(username: str, secret: str = PASSWORD, md5: bool = False) -> dict[str, str]:
    value = hashlib.md5(secret.encode()).hexdigest() if md5 else secret
    token = base64.b64encode(f"{username}:{value}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Tenant:
    ctx: AppContext
    org_id: int
    users: dict[str, int] = field(default_factory=dict)

    def headers(self, username: str, **extra: str) -> dict[str, str]:
        return {**basic(username), "X-CAP-API-AUTH-ORG-ID": str(self.org_id), **extra}

    async def user(self, username: str, *permissions: str, kind: str = "intouch") -> int:
        """`permissions` are names, or Name@unitId for a unit-scoped grant."""
        grants = [GrantSpec(*(p.split("@", 1) if "@" in p else (p, None))) for p in permissions]
        user = await IdentityService(self.ctx.db).create_user(self.org_id, username, PASSWORD, kind, grants)
        self.users[username] = user.id
        return user.id


async def make_tenant(
    ctx: AppContext, org_id: int = 100, name: str = "Demo Retail", second_store: bool = True
) -> Tenant:
    """An org with the seed page's unit chain (and a sibling store with its own till)."""
    svc = IdentityService(ctx.db)
    await svc.create_org(org_id, name)
    await svc.create_unit(org_id, CONCEPT, "concept", "Main concept", None)
    await svc.create_unit(org_id, ZONE, "zone", "North", CONCEPT)
    await svc.create_unit(org_id, STORE, "store", "Store 1", ZONE)
    await svc.create_unit(org_id, TILL, "till", "Till 1", STORE)
    if second_store:
        await svc.create_unit(org_id, f"{STORE}9", "store", "Store 2", ZONE)
        await svc.create_unit(org_id, f"{TILL}9", "till", "Till 2", f"{STORE}9")
    return Tenant(ctx, org_id)
