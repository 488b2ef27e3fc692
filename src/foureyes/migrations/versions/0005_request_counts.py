"""request counts per (org, state); inbox index covers its sort

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_request_counts",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "state"),
    )
    # Existing requests are counted once here; from now on every write keeps the counts (workflows/counts.py).
    op.execute(
        "INSERT INTO workflow_request_counts (org_id, state, n) "
        "SELECT org_id, state, COUNT(*) FROM workflow_requests GROUP BY org_id, state"
    )
    with op.batch_alter_table("workflow_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_wr_org_state_start")
        batch_op.create_index("ix_wr_org_state_start", ["org_id", "state", "start_time", "id"], unique=False)
    # Fresh statistics for the rebuilt index: with stale ones SQLite's planner sorted a million rows for the list
    # (1.8 s) instead of walking ix_wr_org_start (0.1 ms). Both stores accept the statement.
    op.execute("ANALYZE workflow_requests")


def downgrade() -> None:
    with op.batch_alter_table("workflow_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_wr_org_state_start")
        batch_op.create_index("ix_wr_org_state_start", ["org_id", "state", "start_time"], unique=False)
    op.drop_table("workflow_request_counts")
