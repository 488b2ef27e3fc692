"""HTTP routes of the customers feature: the minimal registry and the CUSTOMER-STATUS-CHANGE downstream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from foureyes.core.errors import envelope
from foureyes.customers.schemas import CustomerCreate, StatusChange
from foureyes.customers.service import CustomerService
from foureyes.identity.deps import ApiCaller, Ctx

router = APIRouter(tags=["customers"])

IdentifierName = Annotated[str, Query(max_length=40, description="mobile, email, externalId or cardnumber")]
IdentifierValue = Annotated[str, Query(max_length=254)]
Source = Annotated[str, Query(max_length=32, description="Accepted for compatibility; foureyes has only INSTORE.")]


def reference_params(
    source: Source = "INSTORE",
    accountId: Annotated[str, Query(max_length=64)] = "",
    use_async: Annotated[str, Query(max_length=8)] = "false",
) -> dict[str, str]:
    """Parameters the reference sends that foureyes accepts (bounded) without interpreting: it is always sync."""
    return {"source": source, "accountId": accountId, "use_async": use_async}


@router.post("/v2/customers")
async def create_customer(body: CustomerCreate, caller: ApiCaller, ctx: Ctx) -> dict[str, Any]:
    """Create a customer in the caller's org (needs CustomersWrite); `id` is assigned when absent."""
    return envelope(await CustomerService(ctx).create(caller, body))


@router.get("/v2/customers/lookup", dependencies=[Depends(reference_params)])
async def lookup_customer(
    caller: ApiCaller,
    ctx: Ctx,
    identifierName: IdentifierName = "",
    identifierValue: IdentifierValue = "",
) -> dict[str, Any]:
    """Find a customer by identifier, with its status and status history (CustomersWrite or BadgesRead)."""
    return envelope(await CustomerService(ctx).lookup(caller, identifierName, identifierValue))


@router.put("/v2/customers/lookup/status", dependencies=[Depends(reference_params)])
async def change_customer_status(
    body: StatusChange,
    caller: ApiCaller,
    ctx: Ctx,
    identifierName: IdentifierName = "",
    identifierValue: IdentifierValue = "",
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """Change a customer's status label (CustomersWrite); a repeated Idempotency-Key applies nothing twice."""
    data, warnings = await CustomerService(ctx).change_status(
        caller, identifierName, identifierValue, body, idempotency_key
    )
    return envelope(data, warnings)
