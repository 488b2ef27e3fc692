"""Badges of a tenant file: explicit ids (migrations from another platform), their definition and claims.

The badges service's create/update own their transactions and assign ids, so the seed inserts through the
badges models with the same rules (parse_meta in validate.py; 720/723/725/714/826 here). A seed may carry
a start date in the past, as the migration header allows on the API.
"""

from __future__ import annotations

import json
from typing import Any

from foureyes.badges import limits
from foureyes.badges.meta_service import _keep_cycle_ids
from foureyes.badges.models import BadgeClaim, BadgeMeta
from foureyes.badges.repository import BadgeRepository
from foureyes.badges.rules import owner_type, status_of
from foureyes.badges.schemas import MetaInput
from foureyes.core.errors import AppError
from foureyes.core.ids import object_id
from foureyes.tenants.outcome import Seeder
from foureyes.tenants.schema import BadgeSpec


def _columns(meta: BadgeMeta | MetaInput) -> dict[str, Any]:
    """Everything that defines a badge, in a comparable form (JSON-normalised doc)."""
    return {
        "name": meta.name,
        "earn_type": meta.earn_type,
        "start_on": meta.start_on,
        "expires_on": meta.expires_on,
        "active": meta.active,
        "group_id": meta.group_id,
        "rank": meta.rank,
        "doc": json.loads(json.dumps(meta.doc, sort_keys=True, default=str)),
    }


async def apply_badge(
    seed: Seeder, org_id: int, path: str, spec: BadgeSpec, data: MetaInput, entry: dict[str, Any]
) -> None:
    """Create or bring in line one badge and make sure its claims are active."""
    repo = BadgeRepository(seed.s, org_id)
    now = seed.ctx.clock.now()
    meta: BadgeMeta | None = None
    if spec.id is not None:
        meta = await seed.s.get(BadgeMeta, spec.id)
        if meta is not None and meta.org_id != org_id:
            seed.out.problem(f"{path}.id", f"Badge id {spec.id} belongs to another org")
            return
    else:
        meta = await repo.meta_by_name(data.name)
    named = await repo.meta_by_name(data.name)
    if named is not None and (meta is None or named.id != meta.id):
        seed.out.problem(f"{path}.meta.name", f"Another badge of org {org_id} is named {data.name!r} (725)")
        return
    if data.group_id is not None and await repo.group(data.group_id) is None:
        seed.out.problem(f"{path}.meta.badgeGroupId", "Badge group not found")
        return
    status = "unchanged"
    if meta is None:
        meta = BadgeMeta(
            id=spec.id or object_id(),
            org_id=org_id,
            created_at=now,
            created_by=seed.actor,
            updated_at=now,
            updated_by=seed.actor,
            **_assignable(data),
        )
        repo.add(meta)
        await repo.flush()
        await seed.audit(org_id, "badge.created", "badge", meta.id, {"name": meta.name})
        status = "created"
    else:
        changed = await _update(seed, repo, path, meta, data, now)
        if changed is None:
            return
        status = "updated" if changed else "unchanged"
    claims_added = await _claims(seed, repo, org_id, meta, spec)
    if claims_added and status == "unchanged":
        status = "updated"
    shown = meta.id if spec.id is not None else seed.out.new_id(meta.id, status)
    entry["badges"].append({"id": shown, "name": meta.name, "status": seed.out.count(status)})


def _assignable(data: MetaInput) -> dict[str, Any]:
    return {
        "name": data.name,
        "earn_type": data.earn_type,
        "start_on": data.start_on,
        "expires_on": data.expires_on,
        "active": data.active,
        "group_id": data.group_id,
        "rank": data.rank,
        "doc": data.doc,
    }


async def _update(
    seed: Seeder, repo: BadgeRepository, path: str, meta: BadgeMeta, data: MetaInput, now: Any
) -> bool | None:
    """Apply a changed definition with the update rules: True when changed, None (and a problem) if refused."""
    for key in ("customerConstraints", "badgeConstraints"):
        # The fixed-window series id is the server's: keep the stored one, as an update through the API does.
        _keep_cycle_ids(meta.doc.get(key) or [], data.doc[key])
    if _columns(meta) == _columns(data):
        return False
    problems_before = len(seed.out.problems)
    if data.start_on != meta.start_on and status_of(meta.start_on, meta.expires_on, now) != "UPCOMING":
        seed.out.problem(f"{path}.meta.startOn", "Start Date cannot change once the badge is live (723)")
    for key, level in (("customerConstraints", "CUSTOMER"), ("badgeConstraints", "BADGE")):
        try:
            limits.check_switch(meta.doc.get(key) or [], data.doc[key], level, key)
        except AppError:
            seed.out.problem(
                f"{path}.meta.{key}", "Changing between fixed-window and other limits is not allowed (826)"
            )
    claims = (await repo.claims([meta.id]))[meta.id]
    removed = {c.owner_type for c in claims if c.active} - set(data.doc["restrictedToOwners"])
    if removed:
        seed.out.problem(f"{path}.meta.ownership.restrictedToOwners", f"Owner {sorted(removed)[0]} has an active claim")
    if len(seed.out.problems) > problems_before:
        return None
    for attr, value in _assignable(data).items():
        setattr(meta, attr, value)
    meta.updated_at, meta.updated_by = now, seed.actor
    await repo.flush()
    await seed.audit(meta.org_id, "badge.updated", "badge", meta.id, {"name": meta.name})
    return True


async def _claims(seed: Seeder, repo: BadgeRepository, org_id: int, meta: BadgeMeta, spec: BadgeSpec) -> bool:
    """Claims named in the file are made active; other claims are left alone. True when one was added."""
    added = False
    for claim in spec.claims:
        owner, ref = owner_type(claim.ownerType), str(claim.referenceId).strip()
        if await repo.active_claim(meta.id, owner, ref) is not None:
            continue
        repo.add(
            BadgeClaim(
                org_id=org_id,
                badge_id=meta.id,
                owner_type=owner,
                reference_id=ref,
                active=True,
                created_at=seed.ctx.clock.now(),
            )
        )
        await repo.flush()
        data = {"ownerType": owner, "referenceId": ref}
        await seed.audit(org_id, "badge.claimed", "badge", meta.id, data)
        added = True
    return added
