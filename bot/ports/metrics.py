"""Metrics: a Prometheus-compatible query API."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.domain.deadline import Deadline
from bot.domain.series import Series


class MetricsSource(Protocol):
    """Read-only PromQL access, always evaluated as of an explicit time (never the wall clock).

    Implementations raise ``SourceUnavailable`` when the server cannot be reached or refuses a
    query, with a message that says which and why (``SourceTimedOut``, ``SourceUnreachable``).
    Each call ends within its own budget, or by ``deadline`` when that comes first.
    """

    def instant(self, promql: str, at: datetime, deadline: Deadline | None = None) -> list[Series]:
        """Evaluate at one instant; each Series has one point."""
        ...

    def range(
        self, promql: str, start: datetime, end: datetime, step_s: float, deadline: Deadline | None = None
    ) -> list[Series]:
        """Evaluate over [start, end] every ``step_s`` seconds."""
        ...

    def series(
        self, match: str, start: datetime, end: datetime, deadline: Deadline | None = None
    ) -> list[dict[str, str]]:
        """Label sets of the series matching a selector in the window (the /api/v1/series API)."""
        ...

    def metric_names(self, start: datetime, end: datetime, deadline: Deadline | None = None) -> list[str]:
        """Names of all metrics with samples in the window (the __name__ label values)."""
        ...
