"""Maker form fields → the same CreateRequestBody the API takes (the console never builds a different call)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from foureyes.core.errors import ErrorItem
from foureyes.core.security import md5_hex
from foureyes.identity.principal import Principal
from foureyes.workflows.schemas import CreateRequestBody
from foureyes.workflows.types import RequestType

from .directory import Directory, Till

MAKER_TYPES = ("EARN-BADGE", "ISSUE-BADGE", "CUSTOMER-STATUS-CHANGE")
STATUS_LABELS = ("Active", "Suspended", "Fraud", "Inactive", "Blocked")
# Where a service error's `reference` ends → the form field it belongs next to.
FIELD_OF = {
    "hostname": "hostname",
    "tillId": "till",
    "storeId": "till",
    "zoneId": "till",
    "conceptId": "till",
    "customerId": "customer_value",
    "customers": "customers",
    "badgeMetaId": "badge",
    "ownerType": "owner_type",
    "referenceId": "reference_id",
    "identifierValue": "identifier_value",
    "identifierName": "identifier_name",
    "label": "label",
    "reason": "reason",
    "Authorization": "till_username",
}


@dataclass
class MakerForm:
    """What the maker typed, kept so the form can be shown again with their values and the errors."""

    values: dict[str, str]
    errors: list[ErrorItem] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def error(self, reference: str | None, message: str) -> None:
        self.errors.append(ErrorItem(2008, message, reference))

    def field_errors(self) -> dict[str, list[str]]:
        """Errors keyed by form field, so each is shown next to its input."""
        out: dict[str, list[str]] = {}
        for item in self.errors:
            ref = (item.reference or "").replace("[", ".").replace("]", "")
            last = [p for p in ref.split(".") if p and not p.isdigit()]
            name = FIELD_OF.get(last[-1], last[-1]) if last else ""
            name = name if name in self.values or name in FIELD_OF.values() else ""
            out.setdefault(name, []).append(item.message)
        return out


def authorization(username: str, password: str) -> str:
    """The documented till style: Basic base64(username:md5hex(password)); the password never leaves here."""
    token = base64.b64encode(f"{username}:{md5_hex(password)}".encode()).decode()
    return f"Basic {token}"


async def _customer_id(
    directory: Directory, principal: Principal, form: MakerForm, name: str, value: str
) -> int | None:
    found = await directory.customer(principal, name, value)
    if found is None:
        form.error("customer_value", f"No customer with {name} {value!r} in this org.")
        return None
    return int(found["id"])


async def build_body(
    directory: Directory, principal: Principal, rtype: RequestType, form: MakerForm, tills: list[Till]
) -> CreateRequestBody | None:
    """Check the form, resolve the pickers and assemble the API body; None (with form.errors) when incomplete."""
    till = next((t for t in tills if t.till_id == form.get("till")), None)
    if till is None:
        form.error("till", "Choose the org unit (till) the request is for.")
    host = form.get("hostname")
    if not host:
        form.error("hostname", "Choose the downstream host.")
    headers: dict[str, str] = {"Content-Type": "application/json"}
    username, password = form.get("till_username"), form.get("till_password")
    if username and password:
        headers["Authorization"] = authorization(username, password)
    elif username or password:
        form.error("till_username", "Give both the till username and its password, or neither.")
    body: dict[str, Any] = {}
    query: dict[str, Any] = {}
    if rtype.name in ("EARN-BADGE", "ISSUE-BADGE"):
        if not form.get("badge"):
            form.error("badge", "Choose a badge.")
        trig = {"ownerType": form.get("owner_type") or "Goodwill_Module", "referenceId": form.get("reference_id")}
        if not trig["referenceId"]:
            form.error("reference_id", "Give the reference id of the owner (e.g. the goodwill case number).")
        body = {"triggeredBy": trig, "badgeMetaId": form.get("badge"), "requestId": str(uuid.uuid4())}
        if rtype.name == "EARN-BADGE":
            name, value = form.get("customer_name", "mobile"), form.get("customer_value")
            if not value:
                form.error("customer_value", "Look the customer up by mobile, email, external id or id.")
            else:
                body["customerId"] = await _customer_id(directory, principal, form, name, value)
        else:
            ids = await _customers(directory, principal, form)
            body["customers"] = ids
    elif rtype.name == "CUSTOMER-STATUS-CHANGE":
        query = {
            "identifierName": form.get("identifier_name", "mobile"),
            "identifierValue": form.get("identifier_value"),
        }
        body = {"label": form.get("label"), "reason": form.get("reason")}
        if not query["identifierValue"]:
            form.error("identifier_value", "Give the customer's identifier.")
        if not body["label"]:
            form.error("label", "Choose the new status.")
        if not body["reason"]:
            form.error("reason", "Say why the status changes.")
    if form.errors or till is None:
        return None
    task = {
        "hostname": host,
        "path": rtype.path,
        "method": rtype.method,
        "pathParams": {},
        "queryParams": query,
        "body": body,
        "headers": headers,
    }
    return CreateRequestBody.model_validate(
        {"entityInfo": till.entity_info(), "payload": {"IntouchAPITask-Payload": task}, "source": "console"}
    )


async def _customers(directory: Directory, principal: Principal, form: MakerForm) -> list[int]:
    """A comma/space separated list of customer ids or identifiers (looked up with the chosen name)."""
    raw = [p.strip() for p in form.get("customers").replace(",", " ").split() if p.strip()]
    if not raw:
        form.error("customers", "List at least one customer (ids, or identifiers of the kind chosen).")
    if len(raw) > 100:
        form.error("customers", "At most 100 customers per request from the console.")
        return []
    name = form.get("customer_name", "id")
    ids: list[int] = []
    for value in raw:
        found = await directory.customer(principal, name, value)
        if found is None:
            form.error("customers", f"No customer with {name} {value!r} in this org.")
        else:
            ids.append(int(found["id"]))
    return ids
