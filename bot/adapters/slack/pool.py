"""Bolt's listener executor, which tells whoever dispatched a request when the lazy work it
started is over (the journal marks the request done then: ``SlackEdge``, ``SocketIntake``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any


class ListenerPool(ThreadPoolExecutor):
    """A thread pool whose ``submit`` also hands each future to the ``collecting()`` block open on
    the submitting thread. Bolt submits a request's lazy listeners on the thread that dispatches
    it (``ThreadLazyListenerRunner.start``), so that block sees exactly that request's work."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._collectors = threading.local()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        started: list[Future[Any]] | None = getattr(self._collectors, "started", None)
        if started is not None:
            started.append(future)
        return future

    @contextmanager
    def collecting(self) -> Iterator[list[Future[Any]]]:
        """The futures submitted from this thread while the block runs."""
        started: list[Future[Any]] = []
        self._collectors.started = started
        try:
            yield started
        finally:
            self._collectors.started = None


def when_all_done(futures: list[Future[Any]], then: Callable[[], None]) -> None:
    """Call ``then`` once every future has finished (at once when there are none), whatever
    their outcome: Bolt logs a listener's failure itself."""
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
