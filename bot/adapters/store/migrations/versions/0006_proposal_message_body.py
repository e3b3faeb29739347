"""What each proposal's message with buttons said (its fallback text and blocks), so that the
edit once the proposal ends keeps it and only drops the buttons and adds how it ended.

Revision ID: 0006_proposal_message_body
Revises: 0005_anomaly_warnings
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_proposal_message_body"
down_revision: str | None = "0005_anomaly_warnings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a message recorded before this revision is rebuilt from its proposal, as before.
    op.add_column("proposal_messages", sa.Column("text", sa.Text(), nullable=True))
    op.add_column("proposal_messages", sa.Column("blocks", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("proposal_messages", "blocks")
    op.drop_column("proposal_messages", "text")
