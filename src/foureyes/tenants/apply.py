"""Apply a tenant file in ONE write transaction, idempotently, or dry-run it (same work, rolled back).

Seeding is additive: what the file names is created or brought in line with the file; what it does not
name is left alone (nothing is ever deleted). Every creation and change is audited as `system:seed`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.service import record
from foureyes.core.clock import utcnow
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, ErrorItem
from foureyes.identity.models import ApiClient, Org, User
from foureyes.identity.repository import IdentityRepository
from foureyes.identity.service import GrantSpec, add_unit, replace_grants
from foureyes.tenants import records
from foureyes.tenants.badges import apply_badge
from foureyes.tenants.outcome import Outcome
from foureyes.tenants.repository import TenantRepository
from foureyes.tenants.schema import ClientSpec, PermissionSpec, Problem, UserSpec
from foureyes.tenants.secrets import PreparedSecrets, prepare, resolve
from foureyes.tenants.validate import OrgPlan, validate

SEED_ACTOR = "system:seed"


class TenantFileError(AppError):
    """The file is refused whole; `problems` lists every reason by JSON path."""

    def __init__(self, problems: list[Problem]) -> None:
        items = [ErrorItem(400, p.message, p.path) for p in problems]
        super().__init__(400, problems[0].message, problems[0].path, status=400, items=items)
        self.problems = problems


class _RollBack(Exception):
    """Raised inside the transaction to undo a dry run after it has computed its summary."""


async def apply_tenant_file(
    ctx: AppContext, raw: Any, *, dry_run: bool = False, actor: str = SEED_ACTOR
) -> dict[str, Any]:
    """Validate `raw` (parsed JSON), then apply it; the summary lists ids and created/updated/unchanged."""
    plans, problems = validate(raw)
    if problems:
        raise TenantFileError(problems)
    secrets = await prepare(ctx, plans)
    outcome = Outcome(dry_run)
    try:
        async with ctx.db.write() as s:
            applier = _Applier(s, ctx, secrets, outcome, actor)
            for plan in plans:
                await applier.org(plan)
            if outcome.problems:
                raise TenantFileError(outcome.problems)
            if dry_run:
                raise _RollBack()
    except _RollBack:
        pass
    return outcome.summary()


class _Applier:
    def __init__(
        self, s: AsyncSession, ctx: AppContext, secrets: PreparedSecrets, outcome: Outcome, actor: str
    ) -> None:
        self.s, self.ctx, self.secrets, self.out, self.actor = s, ctx, secrets, outcome, actor
        self.repo = IdentityRepository(s)
        self.tenants = TenantRepository(s)

    async def audit(self, org_id: int, action: str, kind: str, subject: str, data: dict[str, Any]) -> None:
        await record(
            self.s, org_id=org_id, actor=self.actor, action=action, subject_type=kind, subject_id=subject, data=data
        )

    async def org(self, plan: OrgPlan) -> None:
        spec = plan.spec
        entry = self.out.org(spec.id, spec.name)
        org = await self.repo.get_org(spec.id)
        if org is None:
            self.repo.add(Org(id=spec.id, name=spec.name, created_at=utcnow()))
            await self.repo.flush()
            await self.audit(spec.id, "org.created", "org", str(spec.id), {"name": spec.name})
            entry["status"] = self.out.count("created")
        elif org.name != spec.name:
            org.name = spec.name
            await self.audit(spec.id, "org.updated", "org", str(spec.id), {"name": spec.name})
            entry["status"] = self.out.count("updated")
        else:
            entry["status"] = self.out.count("unchanged")
        await self.units(plan, entry)
        usernames = [u.username for u in spec.users]
        existing_users = await self.tenants.users_by_name(usernames)
        for j, user in enumerate(spec.users):
            await self.user(plan, f"{plan.path}.users[{j}]", user, existing_users.get(user.username), entry)
        existing_clients = await self.tenants.clients_by_key([c.key for c in spec.clients])
        for j, client in enumerate(spec.clients):
            await self.client(plan, f"{plan.path}.clients[{j}]", client, existing_clients.get(client.key), entry)
        # Explicit ids first: a server-assigned id (one past the highest) must not take an id named later.
        shown: dict[int, dict[str, Any]] = {}
        for j in sorted(range(len(spec.customers)), key=lambda k: spec.customers[k].id is None):
            item = await records.apply_customer(self, spec.id, f"{plan.path}.customers[{j}]", spec.customers[j])
            if item is not None:
                shown[j] = item
        entry["customers"] = [shown[j] for j in sorted(shown)]
        for j, badge in enumerate(spec.badges):
            await apply_badge(self, spec.id, f"{plan.path}.badges[{j}]", badge, plan.metas[j], entry)
        for name, config in plan.configs.items():
            await records.apply_workflow(self, spec.id, name, config, entry)

    async def units(self, plan: OrgPlan, entry: dict[str, Any]) -> None:
        org_id = plan.spec.id
        for flat in plan.units:
            unit, existing = flat.spec, await self.repo.get_unit(org_id, flat.spec.id)
            status = "unchanged"
            if existing is None:
                await add_unit(self.repo, org_id, unit.id, unit.kind, unit.name or "", flat.parent_id)
                await self.audit(org_id, "unit.created", "unit", unit.id, {"kind": unit.kind, "parent": flat.parent_id})
                status = "created"
            elif existing.kind != unit.kind or existing.parent_id != flat.parent_id:
                self.out.problem(
                    flat.path,
                    f"Unit {unit.id} exists as a {existing.kind} under {existing.parent_id or 'the org'}; "
                    "a tenant file cannot move units or change their kind",
                )
                continue
            elif unit.name is not None and existing.name != unit.name:
                existing.name = unit.name
                await self.audit(org_id, "unit.updated", "unit", unit.id, {"name": unit.name})
                status = "updated"
            entry["units"].append({"id": unit.id, "kind": unit.kind, "status": self.out.count(status)})
        await self.repo.flush()

    async def _grants(self, org_id: int, path: str, perms: list[PermissionSpec]) -> list[GrantSpec] | None:
        ok = True
        for k, p in enumerate(perms):
            if p.unit is not None and await self.repo.get_unit(org_id, p.unit) is None:
                self.out.problem(f"{path}.permissions[{k}].unit", f"Unit {p.unit!r} does not exist in org {org_id}")
                ok = False
        return [GrantSpec(p.name, p.unit) for p in perms] if ok else None

    async def _sync_grants(self, org_id: int, kind: str, principal_id: int, grants: list[GrantSpec]) -> bool:
        """Replace the principal's grants when they differ from the file's; True when they did."""
        current = {(g.permission, g.unit_id) for g in await self.repo.list_grants(kind, principal_id)}
        wanted = {(g.permission, g.unit_id) for g in grants}
        if current == wanted:
            return False
        await replace_grants(self.repo, org_id, kind, principal_id, grants)
        return True

    async def user(self, plan: OrgPlan, path: str, spec: UserSpec, user: User | None, entry: dict[str, Any]) -> None:
        org_id = plan.spec.id
        grants = await self._grants(org_id, path, spec.permissions)
        if user is not None and user.org_id != org_id:
            self.out.problem(f"{path}.username", f"Username {spec.username!r} belongs to a user of another org")
            return
        if user is None and spec.password is None:
            self.out.problem(f"{path}.password", "A new user needs a password")
            return
        if grants is None:
            return
        new_hash = await resolve(
            self.secrets.users.get(spec.username), spec.password, user.password_hash if user else None
        )
        grant_data = [{"name": g.permission, "unit": g.unit_id} for g in grants]
        changes: list[str] = []
        if user is None:
            assert new_hash is not None
            user = User(
                org_id=org_id,
                username=spec.username,
                kind=spec.kind,
                password_hash=new_hash,
                active=True,
                created_at=utcnow(),
            )
            self.repo.add(user)
            await self.repo.flush()
            await replace_grants(self.repo, org_id, "user", user.id, grants)
            data = {"username": spec.username, "kind": spec.kind, "grants": grant_data}
            await self.audit(org_id, "user.created", "user", str(user.id), data)
            status = "created"
        else:
            if new_hash is not None:
                user.password_hash = new_hash
                changes.append("password")
            if user.kind != spec.kind:
                user.kind = spec.kind
                changes.append("kind")
            if await self._sync_grants(org_id, "user", user.id, grants):
                changes.append("permissions")
            if changes:
                data = {"username": spec.username, "changed": changes, "grants": grant_data}
                await self.audit(org_id, "user.updated", "user", str(user.id), data)
            status = "updated" if changes else "unchanged"
        item = {"username": spec.username, "userId": self.out.new_id(user.id, status), "kind": spec.kind}
        entry["users"].append(item | {"status": self.out.count(status)} | ({"changed": changes} if changes else {}))

    async def client(
        self, plan: OrgPlan, path: str, spec: ClientSpec, client: ApiClient | None, entry: dict[str, Any]
    ) -> None:
        org_id = plan.spec.id
        grants = await self._grants(org_id, path, spec.permissions)
        if client is not None and client.org_id != org_id:
            self.out.problem(f"{path}.key", f"Client key {spec.key!r} belongs to another org")
            return
        if client is None and spec.secret is None:
            self.out.problem(f"{path}.secret", "A new client needs a secret")
            return
        if grants is None:
            return
        new_hash = await resolve(
            self.secrets.clients.get(spec.key), spec.secret, client.secret_hash if client else None
        )
        grant_data = [{"name": g.permission, "unit": g.unit_id} for g in grants]
        changes: list[str] = []
        if client is None:
            assert new_hash is not None
            client = ApiClient(
                org_id=org_id, key=spec.key, secret_hash=new_hash, name=spec.name, active=True, created_at=utcnow()
            )
            self.repo.add(client)
            await self.repo.flush()
            await replace_grants(self.repo, org_id, "client", client.id, grants)
            await self.audit(
                org_id, "client.created", "client", str(client.id), {"key": spec.key, "grants": grant_data}
            )
            status = "created"
        else:
            if new_hash is not None:
                client.secret_hash = new_hash
                changes.append("secret")
            if client.name != spec.name:
                client.name = spec.name
                changes.append("name")
            if await self._sync_grants(org_id, "client", client.id, grants):
                changes.append("permissions")
            if changes:
                data = {"key": spec.key, "changed": changes, "grants": grant_data}
                await self.audit(org_id, "client.updated", "client", str(client.id), data)
            status = "updated" if changes else "unchanged"
        item = {"key": spec.key, "clientId": self.out.new_id(client.id, status), "status": self.out.count(status)}
        entry["clients"].append(item | ({"changed": changes} if changes else {}))
