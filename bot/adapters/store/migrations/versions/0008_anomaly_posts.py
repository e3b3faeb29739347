"""An early warning's post, pending until it is out: what to post, the finished rounds of trying,
and the lease of the replica posting it now (the anomaly watch retries lost and failed posts).

Revision ID: 0008_anomaly_posts
Revises: 0007_claim_owner
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_anomaly_posts"
down_revision: str | None = "0007_claim_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Warnings claimed before this revision were posted (or given up) at once: none is pending.
    with op.batch_alter_table("anomaly_warnings") as batch:
        batch.add_column(sa.Column("pending", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("anomaly_warnings") as batch:
        batch.drop_column("leased_until")
        batch.drop_column("tries")
        batch.drop_column("pending")
