"""The job queue's tables (procrastinate), on PostgreSQL only: SQLite runs jobs in memory.

This applies the schema of the procrastinate release pinned in pyproject.toml (one minor
release, so a new schema never arrives unannounced). Upgrading procrastinate means a new
revision that runs the SQL files of its ``sql/migrations`` folder between the two releases
(docs/operations.md, "Upgrades").

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    # The driver's own call: the SQL holds '%' and ':' that SQLAlchemy would read as parameters.
    bind.connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]


DROP_ALL = """
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers CASCADE;
DO $$ DECLARE f record; BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proname LIKE 'procrastinate%' AND n.nspname = current_schema() LOOP
        EXECUTE 'DROP FUNCTION ' || f.sig || ' CASCADE';
    END LOOP;
END $$;
DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type,
    procrastinate_job_to_defer_v1 CASCADE;
"""


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.connection.driver_connection.execute(DROP_ALL)  # type: ignore[union-attr]
