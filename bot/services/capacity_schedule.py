"""The scheduled capacity check in ``serve`` mode: once per interval, on one replica only.

Each interval is a numbered slot; the replica that claims the slot in the database
(``store.claim_once``) runs the check, so two replicas never both open proposals for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from bot.domain.alert import now_utc
from bot.ports.store import Store
from bot.services.capacity import CapacityRun

log = logging.getLogger(__name__)

CapacityJob = Callable[[datetime], CapacityRun]


class CapacitySchedule:
    def __init__(
        self,
        store: Store,
        job: CapacityJob,
        interval_s: float,
        clock: Callable[[], datetime] = now_utc,
        poll_s: float = 60.0,
    ) -> None:
        self.store, self.job, self.interval_s, self.clock = store, job, interval_s, clock
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def slot(self, now: datetime) -> int:
        return int(now.astimezone(UTC).timestamp() // self.interval_s)

    def tick(self, now: datetime | None = None) -> CapacityRun | None:
        """Run the check if this replica is the first to claim the current slot."""
        now = now or self.clock()
        if not self.store.claim_once(f"capacity-check:{self.slot(now)}"):
            return None
        run = self.job(now)
        log.info(
            "capacity check: %d workloads, %d proposals opened, %d skipped",
            len(run.findings), len(run.opened), len(run.skipped),
        )  # fmt: skip
        return run

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tugboat-capacity", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a failed check must not end the schedule; the next slot retries
                log.exception("capacity check failed")
            self._stop.wait(self.poll_s)
