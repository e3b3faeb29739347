"""The job queue (``ProcrastinateQueue``): defer-to-start latency and throughput of a trivial job.

    .venv/bin/python bench/bench_jobs.py [--backend {memory,postgres,both}] [--jobs 1000]
                                         [--latency-jobs 300] [--gap-ms 20]

Two backends: in memory (procrastinate's in-memory connector, as for a SQLite ``database_url``
under a temp dir) and PostgreSQL (a throwaway database on the test server of
``testkit/databases.py``, migrated with ``SqlStore.open`` and dropped at the end; skipped
with a reason when the server is unusable, unless asked for by name). Default settings
throughout: ``jobs_poll_s`` 1.0, ``jobs_concurrency`` 4.

1. Latency: jobs deferred one at a time; each records ``time.monotonic()`` when its handler
   starts, the bench records it just before ``defer``; the next job is deferred ``--gap-ms``
   after the previous one started. Both queues wake the worker on insert (LISTEN/NOTIFY on
   PostgreSQL, a direct notification in memory), so this should sit far below the poll interval.
   ``defer`` itself returns once the job is stored; its own time is shown too.
2. Throughput: ``--jobs`` jobs deferred as fast as possible from 4 threads; the time from the
   first ``defer`` until the last handler has run.

A few warm-up jobs run first on each queue (connections, thread pool) and are not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.jobs.queue import ProcrastinateQueue  # noqa: E402
from bot.adapters.store import SqlStore  # noqa: E402
from bot.ports.jobs import JobSpec  # noqa: E402
from bot.settings import Settings  # noqa: E402
from testkit.databases import (  # noqa: E402
    postgres_problem,
    postgres_server_url,
    sqlite_url,
    throwaway_database,
    url_string,
)

TASK = "bench.noop"
THREADS = 4
WARMUP = 10
WAIT_S = 60.0


class Starts:
    """When each job's handler ran (``time.monotonic()``), by job number, and who waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.at: dict[int, float] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._all = threading.Event()
        self._expected = -1

    def record(self, i: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.at[i] = now
            event = self._waiting.pop(i, None)
            done = len(self.at) >= self._expected >= 0
        if event is not None:
            event.set()
        if done:
            self._all.set()

    def reset(self, expected: int = -1) -> None:
        with self._lock:
            self.at.clear()
            self._waiting.clear()
            self._expected = expected
            self._all.clear()

    def expect(self, i: int) -> threading.Event:
        event = threading.Event()
        with self._lock:
            if i in self.at:
                event.set()
            else:
                self._waiting[i] = event
        return event

    def wait_all(self, timeout: float) -> bool:
        return self._all.wait(timeout)


@dataclass
class Result:
    backend: str
    latencies: list[float]  # seconds from before defer() to the handler starting
    defer_calls: list[float]  # seconds defer() took
    jobs: int
    throughput_s: float
    deferred_s: float  # until every defer() of the throughput run had returned


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def run_latency(
    queue: ProcrastinateQueue, starts: Starts, n: int, gap_s: float, first: int
) -> tuple[list[float], list[float]]:
    latencies: list[float] = []
    calls: list[float] = []
    for i in range(first, first + n):
        event = starts.expect(i)
        t0 = time.monotonic()
        queue.defer(TASK, {"i": i})
        calls.append(time.monotonic() - t0)
        if not event.wait(WAIT_S):
            raise RuntimeError(f"job {i} did not start within {WAIT_S:.0f} s")
        latencies.append(starts.at[i] - t0)
        time.sleep(gap_s)
    return latencies, calls


def run_throughput(queue: ProcrastinateQueue, starts: Starts, n: int, first: int) -> tuple[float, float]:
    starts.reset(expected=n)
    errors: list[BaseException] = []
    go = threading.Barrier(THREADS + 1)

    def deferrer(k: int) -> None:
        go.wait()
        try:
            for i in range(first + k, first + n, THREADS):
                queue.defer(TASK, {"i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deferrer, args=(k,), daemon=True) for k in range(THREADS)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    deferred = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"defer failed: {errors[0]!r}")
    if not starts.wait_all(WAIT_S + n / 20):
        raise RuntimeError(f"only {len(starts.at)} of {n} jobs ran")
    return max(starts.at.values()) - t0, deferred


@contextmanager
def running_queue(url: str, starts: Starts) -> Iterator[ProcrastinateQueue]:
    """A started queue with default settings, warmed up; always stopped afterwards."""
    queue = ProcrastinateQueue(Settings(database_url=url), [JobSpec(TASK, run=starts.record)])
    try:
        queue.start()
        run_latency(queue, starts, WARMUP, 0.0, first=-WARMUP)
        starts.reset()
        yield queue
    finally:
        queue.stop()


def bench(backend: str, url: str, latency_jobs: int, jobs: int, gap_s: float) -> Result:
    """Each measurement on its own queue (in memory: an empty one; on PostgreSQL: the same
    tables, the earlier jobs finished)."""
    with SqlStore.open(url):  # the migrations create procrastinate's tables on PostgreSQL
        pass
    starts = Starts()
    with running_queue(url, starts) as queue:
        latencies, calls = run_latency(queue, starts, latency_jobs, gap_s, first=0)
    with running_queue(url, starts) as queue:
        took, deferred = run_throughput(queue, starts, jobs, first=0)
    return Result(backend, latencies, calls, jobs, took, deferred)


@contextmanager
def backend_url(backend: str) -> Iterator[str]:
    if backend == "memory":
        with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
            yield sqlite_url(Path(tmp))
    else:
        with throwaway_database(postgres_server_url(), prefix="tugboat_bench") as url:
            yield url_string(url)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["memory", "postgres", "both"], default="both")
    ap.add_argument("--jobs", type=int, default=1000, help="jobs in the throughput run")
    ap.add_argument("--latency-jobs", type=int, default=300, help="jobs deferred one at a time")
    ap.add_argument("--gap-ms", type=float, default=20.0, help="pause after each latency job started")
    args = ap.parse_args()

    backends = ["memory", "postgres"] if args.backend == "both" else [args.backend]
    results: list[Result] = []
    failed = False
    for backend in backends:
        if backend == "postgres" and (problem := postgres_problem()):
            print(f"postgres: skipped: {problem}")
            failed = failed or args.backend == "postgres"
            continue
        started = time.monotonic()
        with backend_url(backend) as url:
            result = bench(backend, url, args.latency_jobs, args.jobs, args.gap_ms / 1e3)
        results.append(result)
        print(f"{backend}: done in {time.monotonic() - started:.1f} s", flush=True)

    s = Settings()
    print(
        f"\ndefaults: jobs_poll_s {s.jobs_poll_s}, jobs_concurrency {s.jobs_concurrency}; "
        f"latency over {args.latency_jobs} jobs one at a time ({args.gap_ms:g} ms gaps), "
        f"throughput of {args.jobs} jobs deferred from {THREADS} threads"
    )
    print(
        f"{'backend':<9} {'defer p50':>9} {'start p50':>9} {'p95':>7} {'p99':>7} {'max':>7} (ms)"
        f"   {'jobs':>5} {'all ran':>8} {'jobs/s':>7} {'deferred':>9}"
    )
    for r in results:
        lat = r.latencies
        print(
            f"{r.backend:<9} {ms(statistics.median(r.defer_calls)):>9} {ms(statistics.median(lat)):>9}"
            f" {ms(percentile(lat, 95)):>7} {ms(percentile(lat, 99)):>7} {ms(max(lat)):>7}     "
            f"   {r.jobs:>5} {r.throughput_s:>7.2f}s {r.jobs / r.throughput_s:>7.0f} {r.deferred_s:>8.2f}s"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
