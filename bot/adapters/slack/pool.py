"""Bolt's listener executor, which tells whoever dispatched a request when the lazy work it
started is over (the journal marks the request done then: ``SlackEdge``, ``SocketIntake``), or
that some of it was refused because the pool had shut down (the request then stays in the
journal, for the next start to replay)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    """What one request's dispatch handed to the pool: the futures of its lazy work, and the
    submissions the pool refused (it had shut down)."""

    futures: list[Future[Any]] = field(default_factory=list)
    refused: list[RuntimeError] = field(default_factory=list)


class ListenerPool(ThreadPoolExecutor):
    """A thread pool whose ``submit`` also hands each future (or its refusal) to the
    ``collecting()`` block open on the submitting thread. Bolt submits a request's lazy listeners
    on the thread that dispatches it (``ThreadLazyListenerRunner.start``), so that block sees
    exactly that request's work."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._collectors = threading.local()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        started: Started | None = getattr(self._collectors, "started", None)
        try:
            future = super().submit(fn, *args, **kwargs)
        except RuntimeError as exc:  # shut down: nothing new runs
            if started is not None:
                started.refused.append(exc)
            raise
        if started is not None:
            started.futures.append(future)
        return future

    @contextmanager
    def collecting(self) -> Iterator[Started]:
        """What is submitted from this thread while the block runs."""
        started = Started()
        self._collectors.started = started
        try:
            yield started
        finally:
            self._collectors.started = None


def when_all_done(started: Started | None, then: Callable[[], None]) -> None:
    """Call ``then`` once every future has finished (at once when there are none, or nothing was
    collected), whatever their outcome: Bolt logs a listener's failure itself. Never when the
    pool refused some of the work: it did not run, so the request is not done."""
    if started is None:
        then()
        return
    if started.refused:
        log.warning("a Slack request's work was refused by the closed listener pool; left for a replay")
        return
    futures = started.futures
    if not futures:
        then()
        return
    left = [len(futures)]
    lock = threading.Lock()

    def one(_: Future[Any]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            then()

    for future in futures:
        future.add_done_callback(one)
