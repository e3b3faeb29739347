"""Queueing the groups' delivery jobs off the request path, in batches.

The webhook only stores the notification and names its group here; one thread queues one job per
group for everything named since its last pass (a queueing lock keeps at most one waiting per
group, and it folds in all that is stored by then). A refused defer is tried again a moment
later, and what a crash loses here is still in the store, where the periodic sweep finds it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

RETRY_S = 1.0


class DeliveryDispatcher:
    def __init__(self, defer: Callable[[str], None], retry_s: float = RETRY_S) -> None:
        self._defer, self.retry_s = defer, retry_s
        self._keys: dict[str, None] = {}  # insertion-ordered set: first named, first queued
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def nudge(self, key: str) -> None:
        with self._lock:
            self._keys[key] = None
            if self._thread is None and not self._closing.is_set():
                self._thread = threading.Thread(target=self._run, name="tugboat-intake", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._pass() and not self._closing.wait(self.retry_s):
                self._wake.set()

    def _pass(self) -> bool:
        """Queue every named group once; True when some defer was refused (they stay named)."""
        with self._lock:
            keys, self._keys = list(self._keys), {}
        refused = []
        for key in keys:
            try:
                self._defer(key)
            except Exception as exc:  # the queue refused: the notification is stored, try again
                log.warning("queueing an alert group's delivery failed (%s); trying again", exc)
                refused.append(key)
        if refused:
            with self._lock:
                self._keys = {**dict.fromkeys(refused), **self._keys}
        return bool(refused)

    def close(self) -> None:
        """Queue what is named (once more), then stop."""
        self._closing.set()
        self._wake.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10)
        self._pass()
