"""Rows → the documented wire shapes (request resource, webhook event, timeline)."""

from __future__ import annotations

import uuid
from typing import Any

from foureyes.core.clock import format_wire_time
from foureyes.workflows.models import RequestEvent, WorkflowRequest
from foureyes.workflows.types import TYPES

# The documented keys come first in `details`, in the order the reference examples show them.
DETAIL_ORDER = (
    "IntouchAPITask-Payload",
    "AdminTask-Payload",
    "ValidateMakerAccess_Output",
    "AdminTask_Output",
    "ValidatePayload_Output",
    "IntouchAPITask_Output",
    "ValidateCheckerAccess_Output",
)


def request_resource(row: WorkflowRequest) -> dict[str, Any]:
    """The request resource of §1.3, plus our additions (entityInfo, approvals, dry run, reason)."""
    details: dict[str, Any] = {"IntouchAPITask-Payload": row.payload}
    for key in DETAIL_ORDER[1:]:
        if key in row.details:
            details[key] = row.details[key]
    for key, value in row.details.items():
        if key not in details:
            details[key] = value
    resource: dict[str, Any] = {
        "requestId": row.id,
        "userId": row.maker_id,
        "userName": row.maker_name,
        "requestType": TYPES[row.request_type].kebab,
        "state": row.state,
        "startTime": format_wire_time(row.start_time),
        "endTime": format_wire_time(row.end_time),
        "details": details,
        "entityInfo": {
            "tillId": row.till_id,
            "storeId": row.store_id,
            "zoneId": row.zone_id,
            "conceptId": row.concept_id,
        },
        "configRevision": row.config_revision,
    }
    if row.approvals:
        resource["approvals"] = row.approvals
    if row.failure_reason:
        resource["failureReason"] = row.failure_reason
    return resource


def timeline(events: list[RequestEvent]) -> list[dict[str, Any]]:
    return [{"at": format_wire_time(e.at), "kind": e.kind, "actor": e.actor, "data": e.data} for e in events]


def workflow_event(
    row: WorkflowRequest, previous_state: str | None, comment: str | None, checker_id: int | None, epoch_ms: int
) -> dict[str, Any]:
    """The documented `requestWorkflowEvent` payload (UPPER_SNAKE type, refId = org_requestId)."""
    payload = row.payload
    data: dict[str, Any] = {
        "requestId": row.id,
        "requestType": TYPES[row.request_type].snake,
        "requesterId": row.maker_id,
        "currentRequestState": row.state,
        "updateTime": epoch_ms,
        "requestAttributes": {"queryParams": payload.get("queryParams", {}), "body": payload.get("body", {})},
    }
    if checker_id is not None:
        data["checkerId"] = checker_id
    if previous_state is not None:
        data["previousRequestState"] = previous_state
    if comment is not None:
        data["comment"] = comment
    if row.request_type == "CUSTOMER-STATUS-CHANGE" and isinstance(payload.get("body"), dict):
        data["reason"] = payload["body"].get("reason")
    return {
        "eventName": "requestWorkflowEvent",
        "eventId": str(uuid.uuid4()),
        "orgId": row.org_id,
        "refId": f"{row.org_id}_{row.id}",
        "apiRequestId": uuid.uuid4().hex,
        "createdAt": epoch_ms,
        "data": data,
        "loyaltyEventId": None,
    }
