"""Real databases for tests: a SQLite file, or a throwaway database on the PostgreSQL server.

The PostgreSQL server comes from ``TUGBOAT_TEST_POSTGRES_URL`` (default: the ``postgres`` role,
trust auth, on 127.0.0.1:5432). Each test session creates its own database
``tugboat_test_<random>`` and drops it at the end; each test gets a fresh schema inside it
(selected through ``search_path`` in the URL), so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_server_url() -> URL:
    """``TUGBOAT_TEST_POSTGRES_URL``, else the first of the usual local roles that can log in."""
    if explicit := os.environ.get("TUGBOAT_TEST_POSTGRES_URL"):
        return make_url(explicit)
    default = make_url(DEFAULT_POSTGRES_URL)
    for role in ("postgres", getpass.getuser()):
        candidate = default.set(username=role)
        if postgres_problem(candidate) is None:
            return candidate
    return default


def _libpq(url: URL, database: str | None = None) -> str:
    """The SQLAlchemy URL as a libpq URI, to talk to the server with plain psycopg."""
    return url.set(drivername="postgresql", database=database or url.database).render_as_string(
        hide_password=False
    )


def postgres_problem(url: URL | None = None) -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can."""
    url = url or postgres_server_url()
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {url.render_as_string(hide_password=True)} is unusable: {reason}"
    return None


def url_string(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def throwaway_database(server: URL | None = None, prefix: str = "tugboat_test") -> Iterator[URL]:
    """CREATE a fresh, uniquely named database; DROP it (closing stray sessions) afterwards."""
    server = server or postgres_server_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name)
    finally:
        with psycopg.connect(_libpq(server), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_schema(database: URL, prefix: str = "t") -> URL:
    """A new empty schema in ``database``; the returned URL makes it the only ``search_path``."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(database), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return database.update_query_dict({"options": f"-csearch_path={name}"})


def sqlite_url(directory: Path, name: str = "tugboat.db") -> str:
    return f"sqlite:///{directory / name}"
