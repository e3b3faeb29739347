"""The scheduled capacity check in ``serve`` mode: the periodic job ``capacity.check``.

procrastinate defers a periodic job once per scheduled time across all replicas (a unique key
in its table), so two replicas never both open proposals for the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.ports.jobs import JobSpec
from bot.services.capacity import CapacityRun

log = logging.getLogger(__name__)

CAPACITY_JOB = "capacity.check"
CapacityJob = Callable[[datetime], CapacityRun]


def capacity_job_spec(job: CapacityJob, cron: str) -> JobSpec:
    def run(at: datetime) -> None:
        result = job(at)
        log.info(
            "capacity check: %d workloads, %d proposals opened, %d skipped",
            len(result.findings), len(result.opened), len(result.skipped),
        )  # fmt: skip

    return JobSpec(CAPACITY_JOB, run, cron=cron)
