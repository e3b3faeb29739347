"""Where each proposal's message with Approve/Reject was posted, so that the message can be
updated when the proposal ends some other way (merged or closed on the change host, expired,
ended by housekeeping).

Revision ID: 0004_proposal_messages
Revises: 0003_jobs
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_proposal_messages"
down_revision: str | None = "0003_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposal_messages",
        sa.Column("proposal_id", sa.String(64), sa.ForeignKey("proposals.id"), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(64), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("proposal_messages")
