"""The store (SQLite or PostgreSQL) and the job queue on it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.domain.errors import InvalidInput
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.adapters.jobs.queue import ProcrastinateQueue
    from bot.adapters.store import SqlStore


def store(settings: Settings, url: str | None = None, *, must_exist: bool = False) -> SqlStore:
    """The configured store; with ``must_exist`` a SQLite file that does not exist yet is an
    error, not a new file (``tugboat audit`` reads the bot's database)."""
    from bot.adapters.store import SqlStore
    from bot.adapters.store.engine import parse_url

    url = url or settings.database_url
    parsed = parse_url(url)
    if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.is_file():
            raise InvalidInput(
                f"no Tugboat database at {path.resolve()}; point database_url (TUGBOAT_DATABASE_URL "
                "or --database-url) at the bot's database"
            )
    return SqlStore.open(url)


def job_queue(settings: Settings) -> ProcrastinateQueue:
    """The job queue: procrastinate on the store's PostgreSQL database, in memory on SQLite.
    Jobs are registered by the caller, then ``start()`` runs the worker."""
    from bot.adapters.jobs.queue import ProcrastinateQueue

    return ProcrastinateQueue(settings, [])
