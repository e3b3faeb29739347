"""What every group of tables shares: the engine, short read and write transactions, and an
INSERT that can say ON CONFLICT."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from bot.adapters.store.engine import WRITE, reachable

# INSERT ... ON CONFLICT DO NOTHING tells "inserted" from "already there" by its row count,
# which SQLAlchemy only keeps for INSERTs when asked.
ROWCOUNT = {"preserve_rowcount": True}


def now() -> datetime:
    return datetime.now(UTC)


class Tables:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = engine.url
        # SQLite has one writer at a time. Threads of this process queue here, in order, rather
        # than in SQLite's busy handler, whose growing sleeps gave a webhook in a storm seconds of
        # wait; other processes (the CLI) still wait on the busy timeout.
        self._one_writer: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with reachable(self._url), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with (
            self._one_writer,
            reachable(self._url),
            self.engine.connect().execution_options(**{WRITE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def _insert(self, conn: Connection, table: Any) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that can say ON CONFLICT, in the connection's dialect (make_engine allows
        only these two)."""
        return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
