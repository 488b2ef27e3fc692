"""Queries the tenant file needs that the feature repositories do not offer (whole-org reads, global ids)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.badges.models import BadgeClaim, BadgeMeta
from foureyes.customers.models import Customer
from foureyes.identity.models import ApiClient, User
from foureyes.workflows.models import WorkflowConfigRevision


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def users_by_name(self, usernames: Sequence[str]) -> dict[str, User]:
        """Users are unique across orgs, so a file's usernames are looked up globally."""
        if not usernames:
            return {}
        rows = await self.s.scalars(select(User).where(User.username.in_(list(usernames))))
        return {u.username: u for u in rows}

    async def clients_by_key(self, keys: Sequence[str]) -> dict[str, ApiClient]:
        if not keys:
            return {}
        rows = await self.s.scalars(select(ApiClient).where(ApiClient.key.in_(list(keys))))
        return {c.key: c for c in rows}

    async def badge_any_org(self, badge_id: str) -> BadgeMeta | None:
        """Badge ids are global primary keys: an explicit id may already belong to another org."""
        return await self.s.get(BadgeMeta, badge_id)

    async def customers(self, org_id: int) -> Sequence[Customer]:
        return (await self.s.scalars(select(Customer).where(Customer.org_id == org_id).order_by(Customer.id))).all()

    async def badges(self, org_id: int) -> Sequence[BadgeMeta]:
        return (
            await self.s.scalars(select(BadgeMeta).where(BadgeMeta.org_id == org_id).order_by(BadgeMeta.created_at))
        ).all()

    async def active_claims(self, org_id: int) -> Sequence[BadgeClaim]:
        return (
            await self.s.scalars(
                select(BadgeClaim)
                .where(BadgeClaim.org_id == org_id, BadgeClaim.active.is_(True))
                .order_by(BadgeClaim.id)
            )
        ).all()

    async def current_configs(self, org_id: int) -> dict[str, WorkflowConfigRevision]:
        """The newest revision of each configured request type."""
        rows = await self.s.scalars(
            select(WorkflowConfigRevision)
            .where(WorkflowConfigRevision.org_id == org_id)
            .order_by(WorkflowConfigRevision.request_type, WorkflowConfigRevision.revision)
        )
        return {r.request_type: r for r in rows}
