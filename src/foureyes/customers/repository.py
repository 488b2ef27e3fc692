"""Every customer query, always scoped to one org."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.dialect import insert_ignore, lock_for_no_key_update
from foureyes.customers.models import Customer, CustomerIdempotencyKey, CustomerStatusChange
from foureyes.identity.models import Org

# The wire names of identifiers (query parameters and X-CAP-CUSTOMER-IDENTIFIER) → columns.
IDENTIFIER_COLUMNS = {
    "mobile": Customer.mobile,
    "email": Customer.email,
    "externalid": Customer.external_id,
    "cardnumber": Customer.card_number,
}


def identifier_column(name: str):  # type: ignore[no-untyped-def]
    """The column for an identifier name (case-insensitive), or None when unsupported."""
    return IDENTIFIER_COLUMNS.get(name.strip().lower())


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, org_id: int, customer_id: int) -> Customer | None:
        return await self.s.get(Customer, (org_id, customer_id))

    async def exists(self, org_id: int, customer_id: int) -> bool:
        found = await self.s.scalar(select(Customer.id).where(Customer.org_id == org_id, Customer.id == customer_id))
        return found is not None

    async def existing_ids(self, org_id: int, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        rows = await self.s.scalars(select(Customer.id).where(Customer.org_id == org_id, Customer.id.in_(set(ids))))
        return set(rows)

    async def by_identifier(self, org_id: int, name: str, value: str) -> Customer | None:
        column = identifier_column(name)
        if column is None:
            return None
        if name.strip().lower() == "id" or column is None:
            return None
        return await self.s.scalar(select(Customer).where(Customer.org_id == org_id, column == value))

    async def status_history(self, org_id: int, customer_id: int, limit: int = 100) -> Sequence[CustomerStatusChange]:
        """The customer's most recent `limit` status changes, oldest first."""
        rows = (
            await self.s.scalars(
                select(CustomerStatusChange)
                .where(CustomerStatusChange.org_id == org_id, CustomerStatusChange.customer_id == customer_id)
                .order_by(CustomerStatusChange.at.desc(), CustomerStatusChange.id.desc())
                .limit(limit)
            )
        ).all()
        return list(reversed(rows))

    async def lock_org_creates(self, org_id: int) -> None:
        """Serialise customer creation within one org (PostgreSQL), so `next_id` cannot hand one id out twice."""
        await self.s.execute(lock_for_no_key_update(select(Org.id).where(Org.id == org_id), self.s))

    async def next_id(self, org_id: int) -> int:
        """The next server-assigned id: one past the org's highest (explicit ids may leave gaps)."""
        highest = await self.s.scalar(select(func.max(Customer.id)).where(Customer.org_id == org_id))
        return int(highest or 0) + 1

    async def clashes(self, org_id: int, identifiers: dict[str, str]) -> list[str]:
        """Which of the given identifiers (wire name → value) another customer of the org already holds."""
        wanted = {name: value for name, value in identifiers.items() if identifier_column(name) is not None}
        if not wanted:
            return []
        conditions = [identifier_column(name) == value for name, value in wanted.items()]
        rows = (await self.s.scalars(select(Customer).where(Customer.org_id == org_id, or_(*conditions)))).all()
        taken: list[str] = []
        for name, value in wanted.items():
            attr = identifier_column(name).key
            if any(getattr(row, attr) == value for row in rows):
                taken.append(name)
        return taken

    async def claim_idempotency_key(
        self, org_id: int, key: str, operation: str, fingerprint: str, now: datetime
    ) -> CustomerIdempotencyKey:
        """Insert the key if new, then return its row: `response` is None only for a key claimed just now.

        On PostgreSQL a concurrent insert of the same key waits for the other transaction; once it commits
        the row read here carries its stored answer.
        """
        values = {
            "org_id": org_id,
            "key": key,
            "operation": operation,
            "fingerprint": fingerprint,
            "response": None,
            "created_at": now,
        }
        await insert_ignore(self.s, CustomerIdempotencyKey.__table__, values, ["org_id", "key"])
        row = await self.s.get(CustomerIdempotencyKey, (org_id, key), populate_existing=True)
        assert row is not None  # inserted or already present, in this org
        return row

    def add(self, row: object) -> None:
        self.s.add(row)

    async def flush(self) -> None:
        await self.s.flush()
