"""The newest early warning per series, claimed before it is posted (the anomaly watch).

Revision ID: 0005_anomaly_warnings
Revises: 0004_proposal_messages
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_anomaly_warnings"
down_revision: str | None = "0004_proposal_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "anomaly_warnings",
        sa.Column("series_key", sa.String(512), primary_key=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("anomaly_warnings")
