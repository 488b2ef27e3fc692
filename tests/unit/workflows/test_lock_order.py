"""Multi-org writers lock audit heads in ascending org id (PostgreSQL deadlock safety)."""

from __future__ import annotations

from foureyes.workflows.models import WorkflowRequest
from foureyes.workflows.worker import in_lock_order


def test_rows_are_taken_in_ascending_org_then_id() -> None:
    rows = [WorkflowRequest(org_id=org, id=rid) for org, rid in [(3, "b"), (1, "z"), (3, "a"), (2, "c"), (1, "y")]]
    assert [(r.org_id, r.id) for r in in_lock_order(rows)] == [(1, "y"), (1, "z"), (2, "c"), (3, "a"), (3, "b")]
