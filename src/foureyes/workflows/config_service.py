"""Reading and changing the versioned workflow configuration (CanConfigureWorkflows)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.audit.service import record
from foureyes.core.clock import format_wire_time, utcnow
from foureyes.core.context import AppContext
from foureyes.core.errors import Forbidden
from foureyes.identity.principal import Principal
from foureyes.workflows.config import WorkflowConfig, public_view, seal_webhook_secrets
from foureyes.workflows.models import WorkflowConfigRevision
from foureyes.workflows.repository import WorkflowRepository
from foureyes.workflows.service import request_type


def _require_configure(principal: Principal) -> None:
    if not principal.can("CanConfigureWorkflows", None):
        raise Forbidden("The org-wide CanConfigureWorkflows permission is required")


def _view(rtype_name: str, revision: int, config: dict[str, Any], at: Any, by: str | None) -> dict[str, Any]:
    return {
        "requestType": rtype_name,
        "revision": revision,
        "config": public_view(config),
        "createdAt": format_wire_time(at),
        "createdBy": by,
    }


class ConfigService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def get(self, principal: Principal, type_name: str, history: bool = False) -> dict[str, Any]:
        _require_configure(principal)
        rtype = request_type(type_name)
        async with self.ctx.db.read() as s:
            repo = WorkflowRepository(s)
            rows = list(await repo.config_revisions(principal.org_id, rtype.name, limit=50 if history else 1))
        if rows:
            top = rows[0]
            out = _view(rtype.name, top.revision, top.config, top.created_at, top.created_by)
        else:
            default = WorkflowConfig(allowedHosts=[self.ctx.settings.own_base_url]).model_dump(mode="json")
            out = _view(rtype.name, 0, default, None, None)
        if history:
            out["history"] = [_view(rtype.name, r.revision, r.config, r.created_at, r.created_by) for r in rows]
        return out

    async def put(self, principal: Principal, type_name: str, config: WorkflowConfig) -> dict[str, Any]:
        """Store a new revision (when it differs from the current one) and audit the change."""
        _require_configure(principal)
        rtype = request_type(type_name)
        return await apply_config(self.ctx, principal.org_id, rtype.name, config, principal.actor)


async def apply_config(
    ctx: AppContext, org_id: int, rtype_name: str, config: WorkflowConfig, actor: str
) -> dict[str, Any]:
    """Shared by the API and `foureyes seed`: a new revision only when something changed."""
    async with ctx.db.write() as s:
        view, _ = await apply_config_in(s, ctx, org_id, rtype_name, config, actor)
        return view


async def apply_config_in(
    s: AsyncSession, ctx: AppContext, org_id: int, rtype_name: str, config: WorkflowConfig, actor: str
) -> tuple[dict[str, Any], bool]:
    """apply_config inside the caller's transaction (the seed file applies many things in one); (view, changed)."""
    repo = WorkflowRepository(s)
    current = await repo.current_config(org_id, rtype_name)
    stored = seal_webhook_secrets(config, ctx.secret_box, current.config if current else None)
    if current is not None and _same(current.config, stored, ctx):
        return _view(rtype_name, current.revision, current.config, current.created_at, current.created_by), False
    revision = (current.revision if current else 0) + 1
    now = utcnow()
    row = WorkflowConfigRevision(
        org_id=org_id, request_type=rtype_name, revision=revision, config=stored, created_at=now, created_by=actor
    )
    repo.add(row)
    await repo.flush()
    await record(
        s,
        org_id=org_id,
        actor=actor,
        action="workflow.config.changed",
        subject_type="config",
        subject_id=rtype_name,
        data={"revision": revision, "config": public_view(stored)},
    )
    return _view(rtype_name, revision, stored, now, actor), True


def _same(old: dict[str, Any], new: dict[str, Any], ctx: AppContext) -> bool:
    """Equal apart from how secrets were sealed (Fernet tokens differ each time for the same secret)."""

    def opened(config: dict[str, Any]) -> dict[str, Any]:
        hooks = []
        for w in config.get("webhooks", []):
            secret = w.get("secret")
            try:
                secret = ctx.secret_box.open(secret) if secret else None
            except ValueError:
                pass
            hooks.append({"url": w["url"], "secret": secret})
        return {**config, "webhooks": hooks}

    return opened(old) == opened(new)
