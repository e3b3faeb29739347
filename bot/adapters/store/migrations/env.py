"""Alembic environment. ``bot.adapters.store.migrate`` runs it with an open connection in
``config.attributes["connection"]``; ``sqlalchemy.url`` is the fallback for developers running
alembic by hand (e.g. ``revision --autogenerate`` against a scratch database)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.adapters.store.migrate import owned_by_tugboat
from bot.adapters.store.schema import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
        include_name=owned_by_tugboat,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url, or run migrations through SqlStore.open(url)")
    with create_engine(url).begin() as conn:
        _run(conn)
