"""The alert inbox (webhooks stored as they arrive, folded into incidents by a job) and, on
incidents, the thread update not yet posted and when the firing was first received.

Revision ID: 0003_jobs
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_jobs"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("dedup_key", sa.String(512), nullable=False, unique=True),
        sa.Column("alert", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("requested_by", sa.String(255)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_alert_inbox_waiting", "alert_inbox", ["processed_at", "group_key"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("pending", sa.JSON()))
        batch.add_column(sa.Column("noticed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("noticed_at")
        batch.drop_column("pending")
    op.drop_table("alert_inbox")
