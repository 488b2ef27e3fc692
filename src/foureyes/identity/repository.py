"""Every identity query. Org scoping is explicit in each signature."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import BindParameter, Select, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.dialect import insert_ignore, lock_for_update
from foureyes.core.execute import execute
from foureyes.core.models import core_table
from foureyes.identity.models import ApiClient, Grant, LoginThrottle, Org, OrgUnit, User

# The per-request reads (a create's unit paths, authentication's lookups) are built once with bind parameters
# and reused: building a select and its cache key cost more Python than running it. The create's read is on the
# Core table (core_table says why).
_UNITS = core_table(OrgUnit)


def _unit_paths_in(ids: BindParameter[list[str]] | list[BindParameter[str]]) -> Select[tuple[str, str]]:
    """The org's units among `ids` (an expanding bind, or one bind per id), with their paths."""
    return select(_UNITS.c.id, _UNITS.c.path).where(_UNITS.c.org_id == bindparam("org"), _UNITS.c.id.in_(ids))


_UNIT_PATHS = _unit_paths_in(bindparam("ids", expanding=True))
# A create names at most a concept, a zone, a store and a till: up to this many ids the read has one bind per id,
# so its SQL is fixed and it runs on the driver (core/direct.py); an expanding IN is rendered per call.
_FIXED_UNIT_IDS = 4
_USER_BY_USERNAME = select(User).where(User.username == bindparam("username"))
_USER = select(User).where(User.org_id == bindparam("org"), User.id == bindparam("id"))
_CLIENT_BY_KEY = select(ApiClient).where(ApiClient.key == bindparam("key"))
_GRANTS_WITH_PATHS = (
    select(Grant.permission, Grant.unit_id, OrgUnit.path)
    .outerjoin(OrgUnit, (OrgUnit.org_id == Grant.org_id) & (OrgUnit.id == Grant.unit_id))
    .where(Grant.principal_kind == bindparam("kind"), Grant.principal_id == bindparam("id"))
)


@cache
def _unit_paths_of(count: int) -> Select[tuple[str, str]]:
    """`_UNIT_PATHS` for exactly `count` ids (`id0`, `id1`, …), built once per count."""
    return _unit_paths_in([bindparam(f"id{i}") for i in range(count)])


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get_org(self, org_id: int) -> Org | None:
        return await self.s.get(Org, org_id)

    async def list_orgs(self) -> Sequence[Org]:
        return (await self.s.scalars(select(Org).order_by(Org.id))).all()

    async def get_unit(self, org_id: int, unit_id: str) -> OrgUnit | None:
        return await self.s.get(OrgUnit, (org_id, unit_id))

    async def list_units(self, org_id: int) -> Sequence[OrgUnit]:
        return (await self.s.scalars(select(OrgUnit).where(OrgUnit.org_id == org_id).order_by(OrgUnit.path))).all()

    async def unit_paths(self, org_id: int, unit_ids: set[str]) -> dict[str, str]:
        if not unit_ids:
            return {}
        ids = sorted(unit_ids)
        if len(ids) > _FIXED_UNIT_IDS:
            rows = await execute(self.s, _UNIT_PATHS, {"org": org_id, "ids": ids})
        else:
            params = {"org": org_id} | {f"id{i}": unit_id for i, unit_id in enumerate(ids)}
            rows = await execute(self.s, _unit_paths_of(len(ids)), params)
        return {r.id: r.path for r in rows}

    async def user_by_username(self, username: str) -> User | None:
        return await self.s.scalar(_USER_BY_USERNAME, {"username": username})

    async def get_user(self, org_id: int, user_id: int) -> User | None:
        return await self.s.scalar(_USER, {"org": org_id, "id": user_id})

    async def get_user_any_org(self, user_id: int) -> User | None:
        return await self.s.get(User, user_id)

    async def list_users(self, org_id: int) -> Sequence[User]:
        return (await self.s.scalars(select(User).where(User.org_id == org_id).order_by(User.id))).all()

    async def client_by_key(self, key: str) -> ApiClient | None:
        return await self.s.scalar(_CLIENT_BY_KEY, {"key": key})

    async def get_client(self, client_id: int) -> ApiClient | None:
        return await self.s.get(ApiClient, client_id)

    async def list_clients(self, org_id: int) -> Sequence[ApiClient]:
        return (await self.s.scalars(select(ApiClient).where(ApiClient.org_id == org_id).order_by(ApiClient.id))).all()

    async def grants_with_paths(self, kind: str, principal_id: int) -> list[tuple[str, str | None]]:
        """(permission, unit path or None) for one principal; a grant on a deleted unit is dropped."""
        rows = await self.s.execute(_GRANTS_WITH_PATHS, {"kind": kind, "id": principal_id})
        out: list[tuple[str, str | None]] = []
        for permission, unit_id, path in rows:
            if unit_id is None:
                out.append((permission, None))
            elif path is not None:
                out.append((permission, path))
        return out

    async def list_grants(self, kind: str, principal_id: int) -> Sequence[Grant]:
        return (
            await self.s.scalars(
                select(Grant)
                .where(Grant.principal_kind == kind, Grant.principal_id == principal_id)
                .order_by(Grant.permission, Grant.unit_id)
            )
        ).all()

    async def replace_grants(
        self, org_id: int, kind: str, principal_id: int, grants: Sequence[tuple[str, str | None]]
    ) -> None:
        await self.s.execute(delete(Grant).where(Grant.principal_kind == kind, Grant.principal_id == principal_id))
        for permission, unit_id in sorted(set(grants), key=lambda g: (g[0], g[1] or "")):
            self.s.add(
                Grant(
                    org_id=org_id,
                    principal_kind=kind,
                    principal_id=principal_id,
                    permission=permission,
                    unit_id=unit_id,
                )
            )
        await self.s.flush()

    async def throttle(self, username: str) -> LoginThrottle | None:
        return await self.s.get(LoginThrottle, username)

    async def throttle_for_update(self, username: str) -> LoginThrottle:
        """The username's failure counter, created if missing and row-locked, so concurrent failures all count."""
        await insert_ignore(self.s, LoginThrottle.__table__, {"username": username, "failures": 0}, ["username"])
        stmt = lock_for_update(select(LoginThrottle).where(LoginThrottle.username == username), self.s)
        return (await self.s.scalars(stmt.execution_options(populate_existing=True))).one()

    def add(self, row: object) -> None:
        self.s.add(row)

    async def flush(self) -> None:
        await self.s.flush()
