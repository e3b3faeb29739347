"""``tugboat doctor``: check every configured connection and say how to fix what is wrong.

Each check (a probe in ``bot.adapters.doctor``) talks to the real service with a short timeout
(Slack ``auth.test``, GitHub repository access and App permissions, Prometheus ``/-/ready`` and
a query, Loki ``/ready``, the LLM's model list, the database and its migration revision, the job
queue's tables, live workers and recent failures, ``git ls-remote``). Checks run in parallel. A
component that is not configured is reported as such, never as a failure. Nothing is written
anywhere: the database is not migrated, nothing is posted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from bot.services.doctor.base import Check, CheckResult, Status, fail, reason

if TYPE_CHECKING:  # the CLI imports this package at start-up; pydantic loads when a check runs
    from bot.settings import Settings

DEFAULT_TIMEOUT_S = 5.0

__all__ = ["DEFAULT_TIMEOUT_S", "Check", "CheckResult", "Status", "healthy", "run_checks"]


def run_checks(
    settings: Settings,
    timeout_s: float,
    checks: Sequence[Check] | Mapping[str, Check],
) -> list[CheckResult]:
    """Every check, in parallel; one that overruns its timeout (plus slack) is reported as failed.
    ``checks`` are named by their key when given as a mapping (the probes are adapters: the
    composition root hands them over, ``bot.wiring.doctor_checks``)."""
    named = list(checks.items()) if isinstance(checks, Mapping) else [(_name(c), c) for c in checks]
    pool = ThreadPoolExecutor(max_workers=max(1, len(named)), thread_name_prefix="doctor")
    started = time.monotonic()
    futures = [(name, pool.submit(_timed, check, settings, timeout_s)) for name, check in named]
    deadline = started + timeout_s * 2 + 2
    results: list[CheckResult] = []
    try:
        for name, future in futures:
            try:
                results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                results.append(
                    fail(name, f"no answer within {timeout_s:g}s", "check the address and the network")
                )
            except Exception as exc:
                results.append(fail(name, f"the check itself failed: {reason(exc)}", "report a bug"))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _name(check: Check) -> str:
    return getattr(check, "__name__", "check").removeprefix("check_")


def _timed(check: Check, settings: Settings, timeout_s: float) -> CheckResult:
    started = time.monotonic()
    result = check(settings, timeout_s)
    return CheckResult(
        result.name, result.status, result.detail, result.fix, round(time.monotonic() - started, 3)
    )


def healthy(results: Sequence[CheckResult]) -> bool:
    """False when any configured component failed; warnings and unconfigured ones pass."""
    return all(r.status is not Status.FAIL for r in results)
