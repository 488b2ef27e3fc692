"""Customers and per-type workflow configuration of a tenant file, applied inside the seed's transaction."""

from __future__ import annotations

from typing import Any

from foureyes.customers.models import Customer
from foureyes.customers.repository import CustomerRepository
from foureyes.tenants.outcome import Seeder
from foureyes.tenants.schema import CustomerSpec
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.config_service import apply_config_in

# Wire name in the file → Customer column attribute.
CUSTOMER_FIELDS = {
    "mobile": "mobile",
    "email": "email",
    "externalId": "external_id",
    "cardnumber": "card_number",
    "firstname": "first_name",
    "lastname": "last_name",
}


async def apply_customer(seed: Seeder, org_id: int, path: str, spec: CustomerSpec) -> dict[str, Any] | None:
    """Create the customer, or set the fields the file names (fields it omits are left as they are).

    Returns its summary entry, or None after recording a problem.
    """
    repo = CustomerRepository(seed.s)
    customer: Customer | None = None
    if spec.id is not None:
        customer = await repo.get(org_id, spec.id)
    else:
        for name, value in spec.identifiers().items():
            customer = await repo.by_identifier(org_id, name, value)
            if customer is not None:
                break
    wanted = {attr: getattr(spec, name) for name, attr in CUSTOMER_FIELDS.items() if getattr(spec, name) is not None}
    # An identifier may only move to this customer if no other customer of the org holds it.
    changed_ids = {
        name: value
        for name, value in spec.identifiers().items()
        if customer is None or getattr(customer, CUSTOMER_FIELDS[name]) != value
    }
    taken = await repo.clashes(org_id, changed_ids)
    if taken:
        seed.out.problem(f"{path}.{taken[0]}", f"Another customer of org {org_id} already has this {taken[0]}")
        return None
    now = seed.ctx.clock.now()
    if customer is None:
        customer_id = spec.id if spec.id is not None else await repo.next_id(org_id)
        customer = Customer(
            org_id=org_id, id=customer_id, status_label="Active", created_at=now, updated_at=now, **wanted
        )
        repo.add(customer)
        await repo.flush()
        data = {"identifiers": sorted(spec.identifiers())}
        await seed.audit(org_id, "customer.created", "customer", str(customer_id), data)
        status = "created"
    else:
        changes = sorted(
            name for name, attr in CUSTOMER_FIELDS.items() if attr in wanted and getattr(customer, attr) != wanted[attr]
        )
        for name in changes:
            setattr(customer, CUSTOMER_FIELDS[name], wanted[CUSTOMER_FIELDS[name]])
        if changes:
            customer.updated_at = now
            await repo.flush()
            await seed.audit(org_id, "customer.updated", "customer", str(customer.id), {"changed": changes})
        status = "updated" if changes else "unchanged"
    explicit = spec.id is not None
    shown = customer.id if explicit else seed.out.new_id(customer.id, status)
    return {"id": shown, "status": seed.out.count(status)}


async def apply_workflow(seed: Seeder, org_id: int, rtype: str, config: WorkflowConfig, entry: dict[str, Any]) -> None:
    """A new audited revision only when the configuration differs from the one in force."""
    view, changed = await apply_config_in(seed.s, seed.ctx, org_id, rtype, config, seed.actor)
    status = ("created" if view["revision"] == 1 else "updated") if changed else "unchanged"
    entry["workflows"].append({"requestType": rtype, "revision": view["revision"], "status": seed.out.count(status)})
