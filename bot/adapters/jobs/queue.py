"""The job queue on procrastinate: PostgreSQL in production, the same engine in memory on SQLite.

On PostgreSQL every replica runs a worker on the shared ``procrastinate_jobs`` table, so a job
runs on exactly one of them, a periodic job is deferred once per scheduled time (the table's
unique key on task, schedule and time), and a replica that stops sending heartbeats has its
running jobs put back in the queue by ``jobs.retry_stalled`` on a live replica. On SQLite the
bot is one process, so the queue is procrastinate's in-memory connector: the same jobs, retries
and schedules, run in-process; what is in flight at a restart is recovered from the store.
(procrastinate ships that connector in ``procrastinate.testing``; it implements the queue's SQL
functions in Python, locks and queueing locks included, which is all one process needs. Every
call to it is made on the worker's event loop, since it is not thread-safe.)

The worker runs on its own thread and event loop, apart from uvicorn and Bolt; ``defer`` may be
called from any other thread and hands the insert to that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, cast

import procrastinate
from procrastinate import exceptions as pq_exceptions
from procrastinate.testing import InMemoryConnector

from bot.adapters.store.engine import parse_url
from bot.domain.errors import SourceUnavailable
from bot.ports.jobs import JobArgs, JobSpec, every
from bot.settings import Settings

log = logging.getLogger(__name__)

RETRY_STALLED = "jobs.retry_stalled"
REMOVE_OLD = "jobs.remove_old"
DEFER_TIMEOUT_S = 15.0
START_TIMEOUT_S = 30.0
IN_MEMORY_KEEP_HOURS = 0.1  # six minutes


def connector_for(database_url: str) -> Any:
    """procrastinate's psycopg connector for a PostgreSQL store, else the in-memory one."""
    url = parse_url(database_url)
    if url.get_backend_name() != "postgresql":
        return InMemoryConnector()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)


class ProcrastinateQueue:
    """A ``JobQueue`` and the worker that runs its jobs."""

    def __init__(self, settings: Settings, specs: Iterable[JobSpec], connector: Any | None = None) -> None:
        self.settings = settings
        self.connector = connector if connector is not None else connector_for(settings.database_url)
        self.shared = not isinstance(self.connector, InMemoryConnector)
        self.app = procrastinate.App(connector=self.connector)
        self.name = f"tugboat-{socket.gethostname()}-{os.getpid()}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._register_housekeeping()
        for spec in specs:
            self.register(spec)

    # -- the catalogue --------------------------------------------------------------------------
    def register(self, spec: JobSpec) -> None:
        retry: Any = False
        if spec.retries:
            retry = procrastinate.RetryStrategy(
                max_attempts=spec.retries,
                exponential_wait=2,  # 2, 4, 8, 16... seconds
                retry_exceptions=set(spec.retry_on),
            )
        task = self.app.task(name=spec.name, retry=retry)(_handler(spec))
        if spec.cron:
            self._schedule(task, spec.cron)

    def _schedule(self, task: Any, cron: str) -> None:
        # One run per scheduled time across replicas; a second one waiting is pointless.
        self.app.periodic(cron=cron, periodic_id=task.name, queueing_lock=task.name)(task)

    def _register_housekeeping(self) -> None:
        stalled_after = self.settings.jobs_stalled_after_s

        async def retry_stalled(timestamp: int) -> None:
            """Jobs whose worker stopped sending heartbeats go back in the queue."""
            await _requeue_stalled(self.app.job_manager, stalled_after)

        async def remove_old(timestamp: int) -> None:
            # In memory, every fetch scans every kept job (bench/bench_jobs.py): keep minutes. The
            # in-memory connector reads fractional hours (a timedelta); PostgreSQL gets whole ones.
            hours = self.settings.jobs_keep_hours if self.shared else cast(int, IN_MEMORY_KEEP_HOURS)
            await self.app.job_manager.delete_old_jobs(
                nb_hours=hours, include_failed=True, include_cancelled=True
            )
            if not self.shared:  # the connector keeps a deleted job's events; drop them too
                events = self.connector.events
                for job_id in [i for i in events if i not in self.connector.jobs]:
                    del events[job_id]

        self._schedule(self.app.task(name=RETRY_STALLED)(retry_stalled), every(self.settings.jobs_sweep_s))
        cleanup = self.app.task(name=REMOVE_OLD)(remove_old)
        self._schedule(cleanup, "17 * * * *" if self.shared else "*/5 * * * *")

    # -- JobQueue ---------------------------------------------------------------------------------
    def defer(
        self,
        name: str,
        args: JobArgs | None = None,
        *,
        lock: str | None = None,
        queueing_lock: str | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        loop = self._loop
        if loop is None or not self._ready.is_set():
            raise RuntimeError("the job queue is not running: call start() first")
        if name not in self.app.tasks:  # a programming error, named rather than a bare KeyError
            known = ", ".join(sorted(self.app.tasks))
            raise ValueError(f"no job named {name!r} is registered (known: {known})")
        options: dict[str, Any] = {"lock": lock, "queueing_lock": queueing_lock}
        if delay_s > 0:
            options["schedule_in"] = {"seconds": delay_s}
        if _on_thread_of(loop):  # jobs run on worker threads; waiting here would wait on ourselves
            raise RuntimeError("defer() cannot be called from the job worker's event loop")
        deferred = self.app.tasks[name].configure(**options).defer_async(**(args or {}))
        try:
            asyncio.run_coroutine_threadsafe(deferred, loop).result(DEFER_TIMEOUT_S)
        except pq_exceptions.AlreadyEnqueued:
            return False
        except (pq_exceptions.ConnectorException, FutureTimeout) as exc:
            raise SourceUnavailable(f"the job queue in the database is unreachable: {exc}") from None
        return True

    # -- the worker -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tugboat-jobs", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._failed is not None:
            raise SourceUnavailable(f"the job queue could not start: {self._failed or 'timed out'}")

    def stop(self) -> None:
        """Stop fetching jobs and let running ones finish (``jobs_shutdown_s`` at most). In
        memory, the jobs already due are run first too: nothing else would ever run them."""
        loop, worker, thread = self._loop, self._worker, self._thread
        if loop is not None and not self.shared and self.running:
            self._drain_in_memory(loop)
        if loop is not None and worker is not None and not loop.is_closed():
            loop.call_soon_threadsafe(worker.cancel)
        if thread is not None:
            thread.join(self.settings.jobs_shutdown_s + 10)
        self._thread = None

    def _drain_in_memory(self, loop: asyncio.AbstractEventLoop) -> None:
        async def due() -> int:  # read on the loop: the connector's dict is the loop's
            now = datetime.now(UTC)
            return sum(
                1
                for job in self.connector.jobs.values()
                if job["status"] in ("todo", "doing") and (job["scheduled_at"] or now) <= now
            )

        deadline = time.monotonic() + self.settings.jobs_shutdown_s
        while time.monotonic() < deadline:
            try:
                if asyncio.run_coroutine_threadsafe(due(), loop).result(DEFER_TIMEOUT_S) == 0:
                    return
            except (RuntimeError, FutureTimeout):  # the loop is gone or stuck: nothing to wait for
                return
            time.sleep(0.05)
        log.warning("stopping with in-memory jobs still queued after %ss", self.settings.jobs_shutdown_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(), or logged when it happens later
            self._failed = exc
            if self._ready.is_set():
                log.exception("the job worker stopped")
        finally:
            self._ready.set()
            self._loop = None

    async def _main(self) -> None:
        s = self.settings
        async with self.app.open_async():
            self._loop = asyncio.get_running_loop()
            self._worker = asyncio.create_task(
                self.app.run_worker_async(
                    name=self.name,
                    concurrency=s.jobs_concurrency,
                    install_signal_handlers=False,  # uvicorn owns SIGTERM; stop() cancels us
                    fetch_job_polling_interval=s.jobs_poll_s,
                    update_heartbeat_interval=s.jobs_heartbeat_s,
                    stalled_worker_timeout=s.jobs_stalled_after_s,
                    shutdown_graceful_timeout=s.jobs_shutdown_s,
                )
            )
            self._ready.set()
            with contextlib.suppress(asyncio.CancelledError):  # stop() cancels: a graceful stop
                await self._worker


async def _requeue_stalled(manager: Any, stalled_after: float) -> None:
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        what = f"job {job.id} ({job.task_name}) lost its worker"
        try:
            await manager.retry_job(job)
            log.warning("%s; queued again", what)
        except pq_exceptions.UniqueViolation:
            # An equal job (same queueing lock) is already waiting, e.g. queued by a restarted
            # replica; it waits for this one's lock, so this one must end for it to run.
            await manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=False)
            log.warning("%s; an equal waiting job replaces it", what)
        except pq_exceptions.ProcrastinateException as exc:  # e.g. a concurrent sweep took it
            log.warning("%s; not queued again: %s", what, exc)


def _handler(spec: JobSpec) -> Callable[..., None]:
    """The spec's handler as a procrastinate task: a sync function (run on a worker thread)."""
    if spec.cron:

        def periodic(timestamp: int) -> None:
            spec.run(at=datetime.fromtimestamp(timestamp, UTC))

        periodic.__name__ = periodic.__qualname__ = spec.name
        return periodic

    def run(**args: Any) -> None:
        spec.run(**args)

    run.__name__ = run.__qualname__ = spec.name
    return run


def _on_thread_of(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
