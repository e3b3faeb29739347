"""Who claimed a processed key: a Slack delivery's journal entry, so that a replay of it acts in
place of the attempt cut short and never in place of another replica's delivery.

Revision ID: 0007_claim_owner
Revises: 0006_proposal_message_body
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_claim_owner"
down_revision: str | None = "0006_proposal_message_body"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processed_keys") as batch:
        batch.drop_column("owner")
