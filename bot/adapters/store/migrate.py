"""Bring a database to the newest schema, once, even when several replicas start together.

To add a revision after changing ``schema.py``, point Alembic at a scratch database at head::

    cfg = alembic_config(); cfg.set_main_option("sqlalchemy.url", "sqlite:///scratch.db")
    command.upgrade(cfg, "head"); command.revision(cfg, "what changed", autogenerate=True, rev_id="0002")

then review the generated file; ``tests/store/test_migrations.py`` fails until models and
migrations agree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from bot.adapters.store.engine import WRITE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number, shared by every replica: the advisory lock that admits one migrator.
PG_MIGRATION_LOCK = 0x7475_6762_6F61_7401  # "tugboat" + 1


def alembic_config() -> Config:
    """Built in code: no alembic.ini is needed (or shipped) at runtime."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def owned_by_tugboat(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: the job queue's tables belong to procrastinate (0002
    creates them from its schema), so comparing them with our models would report them gone."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Upgrade to the newest revision; True if this call applied anything.

    On PostgreSQL the whole upgrade is one transaction holding an advisory lock, so a second
    replica waits, then finds the schema current and does nothing. On SQLite the write
    transaction (BEGIN IMMEDIATE) serialises migrators the same way.
    """
    config = alembic_config()
    head = head_revision()
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        before = current_revision(connection)
        if before == head:
            return False
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return True
