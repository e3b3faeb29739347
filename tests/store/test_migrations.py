"""The shipped migrations: they build exactly the tables the code queries, and run once."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.adapters.store import SqlStore, upgrade
from bot.adapters.store.engine import make_engine
from bot.adapters.store.migrate import alembic_config, current_revision, head_revision, owned_by_tugboat
from bot.adapters.store.schema import Base

TABLES = {
    "proposals",
    "approvals",
    "audit_events",
    "audit_head",
    "incidents",
    "processed_keys",
    "anomaly_warnings",
}


def test_migrations_match_the_models(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert upgrade(engine) is True
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            assert current_revision(conn) == head_revision()
            opts = {"compare_type": True, "include_name": owned_by_tugboat}
            context = MigrationContext.configure(conn, opts=opts)
            assert compare_metadata(context, Base.metadata) == []
        assert upgrade(engine) is False, "a current database is left alone"
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine)
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
        assert upgrade(engine) is True
    finally:
        engine.dispose()
    with SqlStore.open(store_url) as store:
        assert store.claim_once("after-downgrade")


def test_sqlite_uses_wal_and_waits_for_locks(tmp_cwd: object) -> None:
    with SqlStore.open("sqlite:///tugboat.db") as store, store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
