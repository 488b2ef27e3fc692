"""request counts per (org, state, UTC day of start): totals and the list's seek

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from foureyes.core.dialect import day_number_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_request_buckets",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "state", "bucket"),
    )
    # Existing requests are counted once here; from now on every write keeps the counts (workflows/counts.py).
    day = day_number_sql(op.get_bind().dialect.name, "start_time")
    op.execute(
        "INSERT INTO workflow_request_buckets (org_id, state, bucket, n) "
        f"SELECT org_id, state, {day}, COUNT(*) FROM workflow_requests GROUP BY org_id, state, {day}"
    )
    # The per-(org, state) totals are the buckets' sums now.
    op.drop_table("workflow_request_counts")


def downgrade() -> None:
    op.create_table(
        "workflow_request_counts",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "state"),
    )
    op.execute(
        "INSERT INTO workflow_request_counts (org_id, state, n) "
        "SELECT org_id, state, SUM(n) FROM workflow_request_buckets GROUP BY org_id, state"
    )
    op.drop_table("workflow_request_buckets")
