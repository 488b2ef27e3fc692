"""Bodies and views of the customers API (wire names in camelCase as the reference spells them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from foureyes.core.clock import format_wire_time
from foureyes.customers.models import Customer, CustomerStatusChange

Mobile = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,20}$")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# A status label is a short word or phrase ("Active", "Suspended"); anything else is refused, not stored.
Label = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9 _-]{0,63}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class CustomerCreate(BaseModel):
    """POST /v2/customers: every field optional; the server assigns `id` when it is absent."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, ge=1, le=2**53)
    mobile: Mobile | None = None
    email: Email | None = None
    externalId: Identifier | None = None
    cardnumber: Identifier | None = None
    firstname: Name | None = None
    lastname: Name | None = None

    def identifiers(self) -> dict[str, str]:
        """The identifiers sent, by wire name."""
        values = {"mobile": self.mobile, "email": self.email, "externalId": self.externalId}
        values["cardnumber"] = self.cardnumber
        return {name: value for name, value in values.items() if value is not None}


class StatusChange(BaseModel):
    """PUT /v2/customers/lookup/status body: the new label and why."""

    model_config = ConfigDict(extra="ignore")

    reason: Reason
    label: Label


def history_view(row: CustomerStatusChange) -> dict[str, Any]:
    return {
        "oldLabel": row.old_label,
        "newLabel": row.new_label,
        "reason": row.reason,
        "changedBy": row.actor,
        "changedOn": format_wire_time(row.at),
    }


def customer_view(customer: Customer, history: list[CustomerStatusChange] | None = None) -> dict[str, Any]:
    """The customer as answered by create, lookup and status change."""
    return {
        "id": customer.id,
        "mobile": customer.mobile,
        "email": customer.email,
        "externalId": customer.external_id,
        "cardnumber": customer.card_number,
        "firstname": customer.first_name,
        "lastname": customer.last_name,
        "status": {"label": customer.status_label, "updatedOn": format_wire_time(customer.updated_at)},
        "statusHistory": [history_view(h) for h in history or []],
        "createdOn": format_wire_time(customer.created_at),
    }
