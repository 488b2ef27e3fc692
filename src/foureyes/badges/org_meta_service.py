"""Badge org meta (documented on hidden pages): the org's tag definitions for badges."""

from __future__ import annotations

from typing import Any

from foureyes.audit.service import record
from foureyes.badges import times
from foureyes.badges.common import who
from foureyes.badges.models import BadgeOrgMeta
from foureyes.badges.rules import bad, not_found, reject_nul
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.identity.principal import Principal

TAG_TYPES = ("string", "number", "boolean", "date")


def _tags(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise bad("The body must be a JSON object")
    reject_nul(body)
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 200:
        raise bad("tags must be an array (at most 200)", "tags")
    out = []
    for i, t in enumerate(tags):
        if not isinstance(t, dict) or not isinstance(t.get("key"), str) or not t["key"].strip():
            raise bad("each tag needs a key", f"tags[{i}].key")
        dtype = str(t.get("dataType") or "string").lower()
        if dtype not in TAG_TYPES:
            raise bad(f"dataType must be one of {', '.join(TAG_TYPES)}", f"tags[{i}].dataType")
        desc = t.get("description")
        if desc is not None and not isinstance(desc, str):
            raise bad("description must be a string", f"tags[{i}].description")
        out.append({"key": t["key"], "dataType": dtype, "description": desc, "mandatory": t.get("mandatory") is True})
    return out


class OrgMetaService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def save(self, caller: Principal | int, body: Any, *, create: bool) -> dict[str, Any]:
        """POST creates (409 when it exists); PUT replaces (404 when it does not)."""
        org, actor = who(caller)
        tags = _tags(body)
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as s:
            row = await s.get(BadgeOrgMeta, org)
            if create and row is not None:
                raise AppError(409, "Org configuration already exists.", None, status=409)
            if not create and row is None:
                raise not_found("Org configuration not found")
            if row is None:
                row = BadgeOrgMeta(org_id=org, doc={"tags": tags}, created_at=now, updated_at=now)
                s.add(row)
            else:
                row.doc, row.updated_at = {"tags": tags}, now
            await record(s, org_id=org, actor=actor, action="badge_org_meta.saved", subject_type="badge_org_meta",
                         subject_id=str(org), data={"tags": len(tags)})  # fmt: skip
            return _wire(row)

    async def get(self, caller: Principal | int) -> dict[str, Any]:
        org, _ = who(caller)
        async with self.ctx.db.read() as s:
            row = await s.get(BadgeOrgMeta, org)
        if row is None:
            raise not_found("Org configuration not found")
        return _wire(row)


def _wire(row: BadgeOrgMeta) -> dict[str, Any]:
    out: dict[str, Any] = {"orgId": row.org_id, "tags": row.doc.get("tags", [])}
    return out | times.pair("createdOn", row.created_at) | times.pair("lastUpdatedOn", row.updated_at)
