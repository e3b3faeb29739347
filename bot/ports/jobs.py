"""Background work that must run once across replicas and survive a replica dying.

Use cases describe their jobs as ``JobSpec`` data (a name, a handler, how to retry, an optional
schedule) and hand work over with ``JobQueue.defer``; the adapter (procrastinate on PostgreSQL,
the same engine in memory on SQLite) decides where and when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

JobArgs = dict[str, Any]  # JSON values only: the args are stored in the database


@dataclass(frozen=True)
class JobSpec:
    """One kind of job.

    ``run`` is called with the deferred args as keyword arguments; a periodic job (``cron`` set)
    is called with ``at``, the scheduled time as a UTC ``datetime``. A job that raises one of
    ``retry_on`` runs again, up to ``retries`` more times, with exponential backoff.
    """

    name: str
    run: Callable[..., None]
    retries: int = 0
    retry_on: tuple[type[Exception], ...] = (Exception,)
    cron: str | None = None  # croniter syntax; a sixth field counts seconds


class JobQueue(Protocol):
    def defer(
        self,
        name: str,
        args: JobArgs | None = None,
        *,
        lock: str | None = None,
        queueing_lock: str | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        """Queue a job; False when a job with the same ``queueing_lock`` is already waiting.

        Jobs sharing a ``lock`` never run at the same time, on any replica.
        """
        ...


def every(seconds: float) -> str:
    """A cron line for "every ``seconds``", rounded to what cron can say (seconds under a minute,
    then whole minutes up to an hour, then whole hours)."""
    s = max(1, round(seconds))
    if s < 60:
        return f"* * * * * */{s}"
    if s < 3600:
        return f"*/{min(59, round(s / 60))} * * * *"
    return f"0 */{min(23, round(s / 3600))} * * *"
