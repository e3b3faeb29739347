"""``tugboat doctor``: check every configured connection and say how to fix what is wrong.

Each check talks to the real service with a short timeout (Slack ``auth.test``, GitHub
repository access and App permissions, Prometheus ``/-/ready`` and a query, Loki ``/ready``, the
LLM's model list, the database and its migration revision, the job queue's tables, live workers
and recent failures, ``git ls-remote``). Checks run in parallel. A component that is not
configured is reported as such, never as a failure. Nothing is written anywhere: the database is
not migrated, nothing is posted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from bot.services.doctor.base import Check, CheckResult, Status, fail, reason
from bot.services.doctor.hosted import check_github, check_slack
from bot.services.doctor.infra import (
    check_database,
    check_git,
    check_jobs,
    check_llm,
    check_loki,
    check_prometheus,
)

if TYPE_CHECKING:  # the CLI imports this package at start-up; pydantic loads when a check runs
    from bot.settings import Settings

DEFAULT_TIMEOUT_S = 5.0

__all__ = ["CHECKS", "DEFAULT_TIMEOUT_S", "Check", "CheckResult", "Status", "healthy", "run_checks"]

CHECKS: tuple[Check, ...] = (
    check_slack,
    check_github,
    check_prometheus,
    check_loki,
    check_llm,
    check_database,
    check_jobs,
    check_git,
)
_LABELS: dict[Check, str] = {
    check_slack: "Slack",
    check_github: "GitHub",
    check_prometheus: "Prometheus",
    check_loki: "Loki",
    check_llm: "LLM",
    check_database: "Database",
    check_jobs: "Job queue",
    check_git: "Git remote",
}


def run_checks(
    settings: Settings, timeout_s: float = DEFAULT_TIMEOUT_S, checks: Sequence[Check] = CHECKS
) -> list[CheckResult]:
    """Every check, in parallel; one that overruns its timeout (plus slack) is reported as failed."""
    names = {check: _LABELS.get(check, check.__name__.removeprefix("check_")) for check in checks}
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="doctor")
    started = time.monotonic()
    futures = {check: pool.submit(_timed, check, settings, timeout_s) for check in checks}
    deadline = started + timeout_s * 2 + 2
    results: list[CheckResult] = []
    try:
        for check, future in futures.items():
            try:
                results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                results.append(
                    fail(
                        names[check], f"no answer within {timeout_s:g}s", "check the address and the network"
                    )
                )
            except Exception as exc:
                results.append(fail(names[check], f"the check itself failed: {reason(exc)}", "report a bug"))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _timed(check: Check, settings: Settings, timeout_s: float) -> CheckResult:
    started = time.monotonic()
    result = check(settings, timeout_s)
    return CheckResult(
        result.name, result.status, result.detail, result.fix, round(time.monotonic() - started, 3)
    )


def healthy(results: Sequence[CheckResult]) -> bool:
    """False when any configured component failed; warnings and unconfigured ones pass."""
    return all(r.status is not Status.FAIL for r in results)
