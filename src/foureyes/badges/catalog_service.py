"""Badge groups and badge custom fields."""

from __future__ import annotations

from typing import Any

from foureyes.audit.service import record
from foureyes.badges import times
from foureyes.badges.common import bool_arg, order_arg, page_args, pagination, who
from foureyes.badges.models import BadgeCustomField, BadgeGroup
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import bad, fail, not_found, reject_nul
from foureyes.core.context import AppContext
from foureyes.core.ids import object_id
from foureyes.identity.principal import Principal

DATA_TYPES = ("INTEGER", "BOOLEAN", "DATE", "STRING")


def group_wire(g: BadgeGroup) -> dict[str, Any]:
    return {"id": g.id, "orgId": g.org_id, "name": g.name, "rank": g.rank, "createdBy": g.created_by,
            "createdOn": times.iso(g.created_at), "lastUpdatedBy": g.updated_by,
            "lastUpdatedOn": times.iso(g.updated_at), "isActive": g.active}  # fmt: skip


def field_wire(f: BadgeCustomField) -> dict[str, Any]:
    return {"id": f.id, "orgId": f.org_id, "name": f.name, "isMandatory": f.is_mandatory,
            "defaultValue": f.default_value, "isActive": f.active, "dataType": f.data_type,
            "createdOn": times.iso(f.created_at), "createdBy": f.created_by,
            "lastUpdatedOn": times.iso(f.updated_at), "lastUpdatedBy": f.updated_by}  # fmt: skip


def _group_body(body: Any) -> tuple[str, int]:
    if not isinstance(body, dict):
        raise bad("The body must be a JSON object")
    reject_nul(body)
    name, rank = body.get("name"), body.get("rank")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise fail(735, "name")
    if isinstance(rank, bool) or not isinstance(rank, int) or abs(rank) > 10**9:
        raise fail(732, "rank")
    return name, rank


def _field_body(body: Any, *, update: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("The body must be a JSON object")
    reject_nul(body)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad("name is required (at most 255 characters)", "name")
    dtype = body.get("dataType")
    if dtype in (None, ""):
        raise fail(741, "dataType")
    if dtype not in DATA_TYPES:
        raise bad(f"dataType must be one of {', '.join(DATA_TYPES)}", "dataType")
    mandatory = bool_arg(body.get("isMandatory"), "isMandatory")
    default = body.get("defaultValue")
    if default is not None and not isinstance(default, str | int | float | bool):
        raise bad("defaultValue must be a scalar", "defaultValue")
    default = None if default is None else str(default)[:1000]
    if mandatory and default in (None, ""):
        raise fail(742, "defaultValue")
    if dtype == "INTEGER" and default not in (None, ""):
        try:
            int(str(default))
        except ValueError:
            raise fail(744, "defaultValue") from None
    out = {"name": name, "data_type": dtype, "is_mandatory": mandatory, "default_value": default}
    if update and body.get("isActive") is not None:
        out["active"] = bool_arg(body.get("isActive"), "isActive")
    return out


class CatalogService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def save_group(self, caller: Principal | int, body: Any, group_id: str | None = None) -> dict[str, Any]:
        """Create (group_id None) or update a group; names are unique and case-sensitive (733)."""
        org, actor = who(caller)
        name, rank = _group_body(body)
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            same = await repo.group_by_name(name)
            if same is not None and same.id != group_id:
                raise fail(733, "name")
            if group_id is None:
                group = BadgeGroup(id=object_id(), org_id=org, name=name, rank=rank, active=True, created_at=now,
                                   created_by=actor, updated_at=now, updated_by=actor)  # fmt: skip
                repo.add(group)
            else:
                found = await repo.group(group_id)
                if found is None:
                    raise not_found("Badge group not found")
                group = found
                group.name, group.rank, group.updated_at, group.updated_by = name, rank, now, actor
            await repo.flush()
            await record(s, org_id=org, actor=actor, action="badge_group.saved", subject_type="badge_group",
                         subject_id=group.id, data={"name": name, "rank": rank})  # fmt: skip
            return group_wire(group)

    async def get_group(self, caller: Principal | int, group_id: str) -> dict[str, Any]:
        org, _ = who(caller)
        async with self.ctx.db.read() as s:
            group = await BadgeRepository(s, org).group(group_id)
        if group is None:
            raise not_found("Badge group not found")
        return group_wire(group)

    async def list_groups(self, caller: Principal | int, q: dict[str, Any]) -> dict[str, Any]:
        org, _ = who(caller)
        page, size = page_args(q.get("page"), q.get("size"))
        desc = order_arg(q.get("order")) == "DESC"
        async with self.ctx.db.read() as s:
            groups = await BadgeRepository(s, org).groups()
        groups.sort(key=lambda g: (g.created_at, g.id), reverse=desc)
        items = [group_wire(g) for g in groups[page * size : (page + 1) * size]]
        return {"badgeGroups": items, "pagination": pagination(page, size, len(groups))}

    async def save_field(self, caller: Principal | int, body: Any, field_id: str | None = None) -> dict[str, Any]:
        """Create or update a custom field; names are unique and case-sensitive (740)."""
        org, actor = who(caller)
        values = _field_body(body, update=field_id is not None)
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as s:
            repo = BadgeRepository(s, org)
            same = await repo.custom_field_by_name(values["name"])
            if same is not None and same.id != field_id:
                raise fail(740, "name")
            if field_id is None:
                row = BadgeCustomField(id=object_id(), org_id=org, active=True, created_at=now, created_by=actor,
                                       updated_at=now, updated_by=actor, **values)  # fmt: skip
                repo.add(row)
            else:
                found = await repo.custom_field(field_id)
                if found is None:
                    raise not_found("Custom field not found")
                row = found
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at, row.updated_by = now, actor
            await repo.flush()
            await record(s, org_id=org, actor=actor, action="badge_custom_field.saved",
                         subject_type="badge_custom_field", subject_id=row.id, data={"name": row.name})  # fmt: skip
            return field_wire(row)

    async def get_field(self, caller: Principal | int, field_id: str) -> dict[str, Any]:
        org, _ = who(caller)
        async with self.ctx.db.read() as s:
            row = await BadgeRepository(s, org).custom_field(field_id)
        if row is None:
            raise not_found("Custom field not found")
        return field_wire(row)

    async def list_fields(self, caller: Principal | int, q: dict[str, Any]) -> dict[str, Any]:
        org, _ = who(caller)
        page, size = page_args(q.get("page"), q.get("size"))
        desc = order_arg(q.get("order")) == "DESC"
        active = None if q.get("isActive") in (None, "") else bool_arg(q.get("isActive"), "isActive")
        async with self.ctx.db.read() as s:
            rows = await BadgeRepository(s, org).custom_fields(active)
        rows.sort(key=lambda f: (f.updated_at, f.id), reverse=desc)
        items = [field_wire(f) for f in rows[page * size : (page + 1) * size]]
        return {"customFieldROList": items, "pagination": pagination(page, size, len(rows))}
