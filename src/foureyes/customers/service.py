"""Customer rules: create with unique identifiers, look up, change status once per Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from foureyes.audit import service as audit
from foureyes.core.context import AppContext
from foureyes.core.errors import AppError, BadRequest, Conflict, Forbidden, NotFound
from foureyes.customers.models import Customer, CustomerStatusChange
from foureyes.customers.repository import CustomerRepository, identifier_column
from foureyes.customers.schemas import CustomerCreate, StatusChange, customer_view
from foureyes.identity.principal import Principal

WRITE = "CustomersWrite"
# Reading a customer is needed by whoever manages customers and by badge clients checking a customer exists.
READ_ANY = (WRITE, "BadgesRead")
CREATE_ATTEMPTS = 3
MAX_KEY_LENGTH = 200


class CustomerService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def create(self, principal: Principal, body: CustomerCreate) -> dict[str, Any]:
        """Create a customer in the caller's org; duplicates of id or identifier answer 409."""
        _require(principal, WRITE)
        # Creates in one org are serialised by a row lock, so checks and id assignment see every earlier
        # create; the unique constraints remain the backstop, and a retry then reports the clash properly.
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return await self._create_once(principal, body)
            except IntegrityError:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise Conflict(1030, "The customer conflicts with one created concurrently; retry") from None
        raise AssertionError("unreachable")

    async def _create_once(self, principal: Principal, body: CustomerCreate) -> dict[str, Any]:
        org = principal.org_id
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            repo = CustomerRepository(session)
            await repo.lock_org_creates(org)
            if body.id is not None and await repo.exists(org, body.id):
                raise Conflict(1031, f"A customer with id {body.id} already exists", "id")
            taken = await repo.clashes(org, body.identifiers())
            if taken:
                raise Conflict(1030, f"Another customer already has this {taken[0]}", taken[0])
            customer = Customer(
                org_id=org,
                id=body.id if body.id is not None else await repo.next_id(org),
                mobile=body.mobile,
                email=body.email,
                external_id=body.externalId,
                card_number=body.cardnumber,
                first_name=body.firstname,
                last_name=body.lastname,
                status_label="Active",
                created_at=now,
                updated_at=now,
            )
            repo.add(customer)
            await repo.flush()
            await audit.record(
                session,
                org_id=org,
                actor=principal.actor,
                action="customer.created",
                subject_type="customer",
                subject_id=str(customer.id),
                data={"identifiers": sorted(body.identifiers())},
                at=now,
            )
            return customer_view(customer, [])

    async def lookup(self, principal: Principal, name: str, value: str) -> dict[str, Any]:
        """The customer with this identifier in the caller's org, with its status history."""
        if not any(principal.holds(p) for p in READ_ANY):
            raise Forbidden("The CustomersWrite or BadgesRead permission is required")
        _check_identifier(name, value)
        async with self.ctx.db.read() as session:
            repo = CustomerRepository(session)
            customer = await _find(repo, principal.org_id, name, value)
            history = list(await repo.status_history(principal.org_id, customer.id))
            return customer_view(customer, history)

    async def change_status(
        self, principal: Principal, name: str, value: str, change: StatusChange, idempotency_key: str | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Set the status label, record history and audit; a repeated Idempotency-Key answers the first result."""
        _require(principal, WRITE)
        _check_identifier(name, value)
        key = (idempotency_key or "").strip() or None
        if key is not None and len(key) > MAX_KEY_LENGTH:
            raise BadRequest(1033, f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters", "Idempotency-Key")
        org = principal.org_id
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            repo = CustomerRepository(session)
            claim = None
            if key is not None:
                fingerprint = _fingerprint(name, value, change)
                claim = await repo.claim_idempotency_key(org, key, "status-change", fingerprint, now)
                if claim.response is not None:
                    if claim.fingerprint != fingerprint or claim.operation != "status-change":
                        raise Conflict(1032, "This Idempotency-Key was used for a different request", "Idempotency-Key")
                    stored: dict[str, Any] = claim.response
                    return stored["data"], stored["warnings"]
            customer = await _find(repo, org, name, value)
            warnings: list[dict[str, Any]] = []
            if customer.status_label == change.label:
                warnings.append({"code": 1034, "message": f"The customer's status is already {change.label}"})
            else:
                repo.add(
                    CustomerStatusChange(
                        org_id=org,
                        customer_id=customer.id,
                        old_label=customer.status_label,
                        new_label=change.label,
                        reason=change.reason,
                        actor=principal.actor,
                        at=now,
                    )
                )
                await audit.record(
                    session,
                    org_id=org,
                    actor=principal.actor,
                    action="customer.status_changed",
                    subject_type="customer",
                    subject_id=str(customer.id),
                    data={"from": customer.status_label, "to": change.label, "reason": change.reason, "key": key},
                    at=now,
                )
                customer.status_label = change.label
                customer.updated_at = now
                await repo.flush()
            data = customer_view(customer, list(await repo.status_history(org, customer.id)))
            if claim is not None:
                claim.response = {"data": data, "warnings": warnings}
            return data, warnings


def _require(principal: Principal, permission: str) -> None:
    if not principal.holds(permission):
        raise Forbidden(f"The {permission} permission is required")


def _check_identifier(name: str, value: str) -> None:
    if identifier_column(name) is None:
        raise AppError(
            1028,
            "Invalid identifier type; use mobile, email, externalId or cardnumber",
            "identifierName",
            status=400,
        )
    if not value.strip() or len(value) > 254:
        raise BadRequest(1033, "identifierValue must be 1 to 254 characters", "identifierValue")


async def _find(repo: CustomerRepository, org_id: int, name: str, value: str) -> Customer:
    customer = await repo.by_identifier(org_id, name, value.strip())
    if customer is None:
        raise NotFound(1026, "Customer not found", "identifierValue")
    return customer


def _fingerprint(name: str, value: str, change: StatusChange) -> str:
    canonical = json.dumps([name.strip().lower(), value.strip(), change.label, change.reason])
    return hashlib.sha256(canonical.encode()).hexdigest()
