"""ProcrastinateQueue on a real worker: in memory on SQLite, on the shared tables on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procrastinate.testing import InMemoryConnector
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from bot.adapters.jobs.queue import REMOVE_OLD, ProcrastinateQueue
from bot.adapters.store import SqlStore
from bot.ports.jobs import JobSpec, every
from bot.settings import Settings
from testkit.databases import sqlite_url

WAIT_S = 20.0

StartQueue = Callable[..., ProcrastinateQueue]


class Calls:
    """What handlers saw, recorded from the worker's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Any] = []

    def add(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)

    @property
    def items(self) -> list[Any]:
        with self._lock:
            return list(self._items)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {timeout:.0f} s for {what}")
        time.sleep(0.05)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def job_statuses(queue: ProcrastinateQueue, task_name: str) -> list[str]:
    """The status of every job of one task, read from where the queue keeps them."""
    if isinstance(queue.connector, InMemoryConnector):
        return [job["status"] for job in queue.connector.jobs.values() if job["task_name"] == task_name]
    with psycopg.connect(libpq(queue.settings.database_url)) as conn:
        rows = conn.execute(
            "SELECT status::text FROM procrastinate_jobs WHERE task_name = %s ORDER BY id", (task_name,)
        ).fetchall()
    return [row[0] for row in rows]


def dead_worker(conn: psycopg.Connection[Any]) -> int:
    """A worker row whose last heartbeat is an hour old, as a killed replica leaves it."""
    row = conn.execute(
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def insert_job(
    conn: psycopg.Connection[Any],
    args: dict[str, Any],
    status: str,
    *,
    worker: int | None = None,
    lock: str | None = None,
    queueing_lock: str | None = None,
) -> None:
    """A ``recover`` job written straight into procrastinate's table."""
    conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, worker_id, lock, queueing_lock)"
        " VALUES ('default', 'recover', %s, %s, %s, %s, %s)",
        (Jsonb(args), status, worker, lock, queueing_lock),
    )


@pytest.fixture
def start_queue() -> Iterator[StartQueue]:
    """Start a queue on a migrated database with fast timings; every queue is stopped afterwards."""
    started: list[ProcrastinateQueue] = []

    def start(url: str, specs: list[JobSpec], **timings: Any) -> ProcrastinateQueue:
        with SqlStore.open(url):  # the migrations create the job tables on PostgreSQL
            pass
        fast: dict[str, Any] = {
            "jobs_poll_s": 0.2,
            "jobs_heartbeat_s": 0.5,
            "jobs_stalled_after_s": 5,
            "jobs_sweep_s": 1,
            "jobs_shutdown_s": 10,
        }
        queue = ProcrastinateQueue(Settings(database_url=url, **(fast | timings)), specs)
        started.append(queue)
        queue.start()
        return queue

    yield start
    for queue in started:
        queue.stop()


def test_a_deferred_job_runs_with_its_args(store_url: str, start_queue: StartQueue) -> None:
    calls = Calls()
    queue = start_queue(store_url, [JobSpec("echo", run=lambda **args: calls.add(args))])
    args = {"n": 1, "text": "«ünïcode»", "items": [1, 2.5, None], "nested": {"ok": True}}

    assert queue.running
    assert queue.defer("echo", args) is True
    wait_for(lambda: len(calls.items) == 1, "the job to run")
    assert calls.items == [args]
    wait_for(lambda: job_statuses(queue, "echo") == ["succeeded"], "the job to be marked succeeded")


def test_a_queueing_lock_refuses_a_second_waiting_job(store_url: str, start_queue: StartQueue) -> None:
    calls = Calls()
    queue = start_queue(store_url, [JobSpec("echo", run=lambda **args: calls.add(args))])

    assert queue.defer("echo", {"n": 1}, queueing_lock="later", delay_s=600) is True
    assert queue.defer("echo", {"n": 2}, queueing_lock="later", delay_s=600) is False
    assert queue.defer("echo", {"n": 3}, queueing_lock="later") is False  # still waiting: no delay helps
    assert queue.defer("echo", {"n": 4}, queueing_lock="other") is True
    assert queue.defer("echo", {"n": 5}) is True
    wait_for(lambda: len(calls.items) == 2, "the two runnable jobs")
    assert sorted(c["n"] for c in calls.items) == [4, 5]

    # Once the job holding a lock has run, the lock is free again.
    wait_for(lambda: "todo" not in job_statuses(queue, "echo")[1:], "the 'other' job to leave the queue")
    assert queue.defer("echo", {"n": 6}, queueing_lock="other") is True
    wait_for(lambda: len(calls.items) == 3, "the job deferred again under a freed lock")
    assert calls.items[-1] == {"n": 6}
    assert job_statuses(queue, "echo")[0] == "todo"  # the delayed one is still waiting


def test_listed_exceptions_are_retried_up_to_the_limit(store_url: str, start_queue: StartQueue) -> None:
    failing, recovering, wrong = Calls(), Calls(), Calls()

    def always_fails() -> None:
        failing.add(datetime.now(UTC))
        raise ConnectionError("still down")

    def fails_once() -> None:
        recovering.add(datetime.now(UTC))
        if len(recovering.items) == 1:
            raise TimeoutError("slow today")

    def raises_unlisted() -> None:
        wrong.add(datetime.now(UTC))
        raise ValueError("a bug, not an outage")

    retry_on = (ConnectionError, TimeoutError)
    specs = [
        JobSpec("always_fails", run=always_fails, retries=1, retry_on=retry_on),
        JobSpec("fails_once", run=fails_once, retries=2, retry_on=retry_on),
        JobSpec("raises_unlisted", run=raises_unlisted, retries=2, retry_on=retry_on),
    ]
    queue = start_queue(store_url, specs)
    for spec in specs:
        assert queue.defer(spec.name) is True

    def settled(name: str) -> Callable[[], bool]:
        return lambda: job_statuses(queue, name) in (["failed"], ["succeeded"])

    for spec in specs:
        wait_for(settled(spec.name), f"{spec.name} to finish for good")
    assert job_statuses(queue, "always_fails") == ["failed"]
    assert len(failing.items) == 2  # the first run and one retry
    assert failing.items[1] - failing.items[0] >= timedelta(seconds=1.5)  # after the 2 s backoff
    assert job_statuses(queue, "fails_once") == ["succeeded"]
    assert len(recovering.items) == 2
    assert job_statuses(queue, "raises_unlisted") == ["failed"]
    assert len(wrong.items) == 1


def test_a_periodic_job_gets_its_scheduled_time_in_utc(store_url: str, start_queue: StartQueue) -> None:
    ticks = Calls()
    start_queue(store_url, [JobSpec("tick", run=lambda at: ticks.add(at), cron=every(1))])

    wait_for(lambda: len(ticks.items) >= 2, "two scheduled runs")
    ats: list[datetime] = ticks.items
    assert all(isinstance(at, datetime) for at in ats)
    assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in ats)
    assert all(at.microsecond == 0 for at in ats)  # a scheduled second, not the time it ran
    assert len(set(ats)) == len(ats)
    assert all(abs(datetime.now(UTC) - at) < timedelta(minutes=1) for at in ats)


def test_stop_lets_a_running_job_finish(store_url: str, start_queue: StartQueue) -> None:
    started, finished = threading.Event(), Calls()

    def slow(n: int) -> None:
        started.set()
        time.sleep(1)
        finished.add(n)

    queue = start_queue(store_url, [JobSpec("slow", run=slow)])
    assert queue.defer("slow", {"n": 42})
    assert started.wait(WAIT_S), "the slow job never started"
    assert finished.items == []  # stop() below really lands while the job runs

    queue.stop()
    assert finished.items == [42]
    assert job_statuses(queue, "slow") == ["succeeded"]
    assert not queue.running
    with pytest.raises(RuntimeError, match=r"start\(\)"):
        queue.defer("slow", {"n": 43})


def test_stop_in_memory_first_runs_the_jobs_already_due(tmp_path: Path, start_queue: StartQueue) -> None:
    """On SQLite nothing else would ever run them: a job waiting behind a running one still runs."""
    started, calls = threading.Event(), Calls()

    def slow() -> None:
        started.set()
        time.sleep(1)
        calls.add("slow")

    specs = [JobSpec("slow", run=slow), JobSpec("echo", run=lambda **args: calls.add(args))]
    queue = start_queue(sqlite_url(tmp_path), specs, jobs_concurrency=1)
    assert queue.defer("slow")
    assert started.wait(WAIT_S), "the slow job never started"
    assert queue.defer("echo", {"n": 1})  # due, but the only worker slot is busy
    assert calls.items == []

    queue.stop()
    assert calls.items == ["slow", {"n": 1}]
    assert job_statuses(queue, "echo") == ["succeeded"]
    assert not queue.running


def test_stop_in_memory_does_not_wait_for_jobs_due_later(tmp_path: Path, start_queue: StartQueue) -> None:
    calls = Calls()
    queue = start_queue(
        sqlite_url(tmp_path), [JobSpec("echo", run=lambda **args: calls.add(args))], jobs_shutdown_s=30
    )
    assert queue.defer("echo", {"n": 1}, delay_s=600)

    began = time.monotonic()
    queue.stop()
    took = time.monotonic() - began
    assert took < 15, f"stop() waited {took:.1f} s for a job due in 10 minutes"  # vs jobs_shutdown_s=30
    assert not queue.running
    assert calls.items == []
    assert job_statuses(queue, "echo") == ["todo"]


def test_defer_before_start_is_refused(tmp_path: Path) -> None:
    queue = ProcrastinateQueue(Settings(database_url=sqlite_url(tmp_path)), [JobSpec("echo", run=print)])

    assert not queue.running
    with pytest.raises(RuntimeError, match=r"not running: call start\(\) first"):
        queue.defer("echo", {"n": 1})


@pytest.mark.postgres
def test_replicas_run_each_scheduled_time_once(postgres_url: str, start_queue: StartQueue) -> None:
    ticks = Calls()

    def spec(replica: str) -> JobSpec:
        return JobSpec("tick", run=lambda at: ticks.add((replica, at)), cron=every(1))

    first = start_queue(postgres_url, [spec("a")])
    second = start_queue(postgres_url, [spec("b")])

    def workers() -> int:
        with psycopg.connect(libpq(postgres_url)) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        return int(row[0]) if row else 0

    wait_for(lambda: workers() == 2, "both replicas to register a worker")
    wait_for(lambda: len({at for _, at in ticks.items}) >= 4, "four scheduled times to run")
    first.stop()
    second.stop()

    ats = [at for _, at in ticks.items]
    assert len(ats) == len(set(ats)), f"a scheduled time ran twice: {sorted(ats)}"
    assert len(set(ats)) >= 2
    assert workers() == 0  # a stopped replica unregisters its worker


@pytest.mark.postgres
def test_a_job_of_a_dead_worker_runs_again(postgres_url: str, start_queue: StartQueue) -> None:
    with SqlStore.open(postgres_url), psycopg.connect(libpq(postgres_url)) as conn:
        insert_job(conn, {"n": 7}, "doing", worker=dead_worker(conn))

    calls = Calls()
    queue = start_queue(
        postgres_url, [JobSpec("recover", run=lambda **args: calls.add(args))], jobs_stalled_after_s=2
    )

    wait_for(lambda: len(calls.items) >= 1, "the stalled job to run again")
    wait_for(lambda: job_statuses(queue, "recover") == ["succeeded"], "the recovered job to succeed")
    assert calls.items == [{"n": 7}]


@pytest.mark.postgres
def test_a_dead_workers_job_gives_way_to_its_waiting_twin(postgres_url: str, start_queue: StartQueue) -> None:
    """A restarted replica may queue the same work again (same queueing lock) while the dead
    worker's job still holds the lock: the stalled job must end so that its twin can run."""
    with SqlStore.open(postgres_url), psycopg.connect(libpq(postgres_url)) as conn:
        insert_job(conn, {"n": 1}, "doing", worker=dead_worker(conn), lock="L", queueing_lock="Q")
        insert_job(conn, {"n": 2}, "todo", lock="L", queueing_lock="Q")

    calls = Calls()
    queue = start_queue(
        postgres_url, [JobSpec("recover", run=lambda **args: calls.add(args))], jobs_stalled_after_s=2
    )

    wait_for(lambda: calls.items == [{"n": 2}], "the twin to run")
    wait_for(
        lambda: sorted(job_statuses(queue, "recover")) == ["failed", "succeeded"], "the stalled job to end"
    )


def test_in_memory_finished_jobs_are_dropped_after_minutes(tmp_path: Path, start_queue: StartQueue) -> None:
    """Each in-memory fetch scans every kept job, so finished ones are kept minutes, not days."""
    calls = Calls()
    queue = start_queue(sqlite_url(tmp_path), [JobSpec("echo", run=lambda **args: calls.add(args))])
    for n in range(3):
        queue.defer("echo", {"n": n})
    wait_for(lambda: job_statuses(queue, "echo") == ["succeeded"] * 3, "three jobs to finish")
    connector = queue.connector
    assert isinstance(connector, InMemoryConnector) and queue._loop is not None

    async def age_and_clean(minutes: int) -> None:  # on the worker's loop, like every other call
        for job_id, job in connector.jobs.items():
            if job["task_name"] == "echo":
                for event in connector.events[job_id]:
                    event["at"] -= timedelta(minutes=minutes)
        await queue.app.tasks[REMOVE_OLD].func(timestamp=0)

    asyncio.run_coroutine_threadsafe(age_and_clean(3), queue._loop).result(WAIT_S)
    assert job_statuses(queue, "echo") == ["succeeded"] * 3  # three minutes old: kept
    asyncio.run_coroutine_threadsafe(age_and_clean(5), queue._loop).result(WAIT_S)
    assert job_statuses(queue, "echo") == []  # eight minutes old: gone, with their events
    assert all(job_id in connector.jobs for job_id in connector.events)


def test_an_unknown_job_is_named_in_the_error(tmp_path: Path, start_queue: StartQueue) -> None:
    queue = start_queue(sqlite_url(tmp_path), [JobSpec("echo", run=print)])
    with pytest.raises(ValueError, match=r"no job named 'ehco' is registered.*echo"):
        queue.defer("ehco", {})
