"""Every customer query, always scoped to one org."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.customers.models import Customer, CustomerStatusChange

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

    async def status_history(self, org_id: int, customer_id: int) -> Sequence[CustomerStatusChange]:
        return (
            await self.s.scalars(
                select(CustomerStatusChange)
                .where(CustomerStatusChange.org_id == org_id, CustomerStatusChange.customer_id == customer_id)
                .order_by(CustomerStatusChange.at, CustomerStatusChange.id)
            )
        ).all()

    def add(self, row: object) -> None:
        self.s.add(row)

    async def flush(self) -> None:
        await self.s.flush()
