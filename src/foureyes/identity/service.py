"""Creating tenants, units, users, clients and grants; used by the CLI, the seed file and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from foureyes.audit.service import record
from foureyes.core.clock import utcnow
from foureyes.core.database import Database
from foureyes.core.errors import BadRequest, Conflict, NotFound
from foureyes.core.security import hash_password_async
from foureyes.identity.models import PERMISSIONS, UNIT_KINDS, ApiClient, Org, OrgUnit, User
from foureyes.identity.repository import IdentityRepository

PARENT_KIND = {"concept": None, "zone": "concept", "store": "zone", "till": "store"}
SYSTEM_ACTOR = "system:cli"


@dataclass(frozen=True)
class GrantSpec:
    permission: str
    unit_id: str | None = None


def check_permissions(grants: Sequence[GrantSpec]) -> None:
    for g in grants:
        if g.permission not in PERMISSIONS:
            raise BadRequest(400, f"Unknown permission {g.permission!r}; known: {', '.join(PERMISSIONS)}")


class IdentityService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_org(self, org_id: int, name: str) -> Org:
        async with self.db.write() as s:
            repo = IdentityRepository(s)
            if await repo.get_org(org_id):
                raise Conflict(409, f"Org {org_id} already exists")
            org = Org(id=org_id, name=name, created_at=utcnow())
            repo.add(org)
            await repo.flush()
            await record(
                s,
                org_id=org_id,
                actor=SYSTEM_ACTOR,
                action="org.created",
                subject_type="org",
                subject_id=str(org_id),
                data={"name": name},
            )
            return org

    async def create_unit(self, org_id: int, unit_id: str, kind: str, name: str, parent_id: str | None) -> OrgUnit:
        async with self.db.write() as s:
            return await add_unit(IdentityRepository(s), org_id, unit_id, kind, name, parent_id)

    async def create_user(
        self, org_id: int, username: str, password: str, kind: str, grants: Sequence[GrantSpec]
    ) -> User:
        if kind not in ("intouch", "till"):
            raise BadRequest(400, "User kind must be 'intouch' or 'till'")
        check_permissions(grants)
        password_hash = await hash_password_async(password)
        async with self.db.write() as s:
            repo = IdentityRepository(s)
            await _require_org(repo, org_id)
            if await repo.user_by_username(username):
                raise Conflict(409, f"Username {username!r} is taken")
            user = User(
                org_id=org_id,
                username=username,
                kind=kind,
                password_hash=password_hash,
                active=True,
                created_at=utcnow(),
            )
            repo.add(user)
            await repo.flush()
            await _replace_grants(repo, org_id, "user", user.id, grants)
            await record(
                s,
                org_id=org_id,
                actor=SYSTEM_ACTOR,
                action="user.created",
                subject_type="user",
                subject_id=str(user.id),
                data={"username": username, "kind": kind, "grants": [g.__dict__ for g in grants]},
            )
            return user

    async def create_client(
        self, org_id: int, key: str, secret: str, name: str, grants: Sequence[GrantSpec]
    ) -> ApiClient:
        check_permissions(grants)
        secret_hash = await hash_password_async(secret)
        async with self.db.write() as s:
            repo = IdentityRepository(s)
            await _require_org(repo, org_id)
            if await repo.client_by_key(key):
                raise Conflict(409, f"Client key {key!r} is taken")
            client = ApiClient(
                org_id=org_id, key=key, secret_hash=secret_hash, name=name, active=True, created_at=utcnow()
            )
            repo.add(client)
            await repo.flush()
            await _replace_grants(repo, org_id, "client", client.id, grants)
            await record(
                s,
                org_id=org_id,
                actor=SYSTEM_ACTOR,
                action="client.created",
                subject_type="client",
                subject_id=str(client.id),
                data={"key": key, "grants": [g.__dict__ for g in grants]},
            )
            return client


async def _require_org(repo: IdentityRepository, org_id: int) -> Org:
    org = await repo.get_org(org_id)
    if org is None:
        raise NotFound(404, f"Org {org_id} does not exist")
    return org


async def add_unit(
    repo: IdentityRepository, org_id: int, unit_id: str, kind: str, name: str, parent_id: str | None
) -> OrgUnit:
    """Insert one unit under its parent, checking the concept → zone → store → till order."""
    if kind not in UNIT_KINDS:
        raise BadRequest(400, f"Unit kind must be one of {', '.join(UNIT_KINDS)}")
    await _require_org(repo, org_id)
    if await repo.get_unit(org_id, unit_id):
        raise Conflict(409, f"Unit {unit_id} already exists in org {org_id}")
    expected_parent = PARENT_KIND[kind]
    path = f"/{unit_id}/"
    if expected_parent is None:
        if parent_id is not None:
            raise BadRequest(400, "A concept has no parent")
    else:
        if parent_id is None:
            raise BadRequest(400, f"A {kind} needs a parent {expected_parent}")
        parent = await repo.get_unit(org_id, parent_id)
        if parent is None or parent.kind != expected_parent:
            raise BadRequest(400, f"The parent of a {kind} must be an existing {expected_parent}")
        path = f"{parent.path}{unit_id}/"
    unit = OrgUnit(org_id=org_id, id=unit_id, kind=kind, name=name or unit_id, parent_id=parent_id, path=path)
    repo.add(unit)
    await repo.flush()
    return unit


async def _replace_grants(
    repo: IdentityRepository, org_id: int, kind: str, principal_id: int, grants: Sequence[GrantSpec]
) -> None:
    for g in grants:
        if g.unit_id is not None and await repo.get_unit(org_id, g.unit_id) is None:
            raise BadRequest(400, f"Unit {g.unit_id} does not exist in org {org_id}")
    await repo.replace_grants(org_id, kind, principal_id, [(g.permission, g.unit_id) for g in grants])


replace_grants = _replace_grants
