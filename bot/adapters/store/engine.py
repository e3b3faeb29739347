"""Engines configured for the store: SQLite tuned for several writers, PostgreSQL pooled."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from bot.domain.errors import InvalidInput, SourceUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
SUPPORTED = ("sqlite", "postgresql")
# Execution option asking for a write transaction: on SQLite it takes the write lock at BEGIN,
# so two writers queue on the busy timeout instead of failing when a read upgrades to a write.
WRITE = "tugboat_write"


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise InvalidInput(
            f"database_url {url!r} is not a SQLAlchemy URL; use e.g. sqlite:///tugboat.db "
            "or postgresql+psycopg://user@host:5432/tugboat"
        ) from None


def shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() not in SUPPORTED:
        raise InvalidInput(
            f"database_url {shown(parsed)}: Tugboat stores its state in SQLite or PostgreSQL, "
            f"not {parsed.get_backend_name()}"
        )
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        # A firewalled host would otherwise hang the bot (and the CLI) at start-up.
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as exc:
        raise InvalidInput(f"database_url {shown(parsed)}: unsupported database or driver ({exc})") from None


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if in_memory:  # one shared connection, else every checkout would see an empty database
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the sqlite3 module's implicit BEGIN skips SELECTs
        # and DDL); see "Transactions with SQLite and the sqlite3 driver" in SQLAlchemy's docs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:  # readers and one writer at a time, without blocking each other
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


@contextlib.contextmanager
def reachable(url: URL) -> Iterator[None]:
    """Turn "cannot connect" into one readable line naming the database and the fix."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise SourceUnavailable(
            f"cannot use the database at {shown(url)}: {reason}. "
            "Check database_url (TUGBOAT_DATABASE_URL) and that the server is running."
        ) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise SourceUnavailable(
                f"lost the connection to the database at {shown(url)}: {exc.orig}"
            ) from None
        raise
