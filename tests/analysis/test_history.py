"""How far back an investigation reads: the lookback, or longer where Prometheus has the series."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from bot.analysis.gather import MAX_POINTS, Gatherer
from bot.domain.deadline import Deadline
from bot.domain.errors import SourceUnavailable
from bot.domain.series import Series

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class _Probe:
    """Only the history probe answers: the namespace's CPU series begin ``begins_s`` before AT."""

    def __init__(self, begins_s: float | None) -> None:
        self.begins_s = begins_s
        self.ranges: list[tuple[str, float, float]] = []

    def range(
        self, promql: str, start: datetime, end: datetime, step_s: float, deadline: Deadline | None = None
    ) -> list[Series]:
        self.ranges.append((promql, end.timestamp() - start.timestamp(), step_s))
        if self.begins_s is None:
            raise SourceUnavailable("prometheus: query refused")
        ts = np.arange(start.timestamp(), end.timestamp() + 1e-6, step_s)
        values = np.where(ts >= AT.timestamp() - self.begins_s, 3.0, np.nan)
        return [Series(labels={}, timestamps=ts, values=values)]


def _window(probe: _Probe, lookback: int = 120, history: int = 240) -> Gatherer:
    g = Gatherer(probe, "shop", AT, lookback, history_minutes=history)  # type: ignore[arg-type]
    g._longer_history()
    return g


def test_history_extends_to_where_the_series_begin_within_the_bound() -> None:
    probe = _Probe(begins_s=180 * 60)
    g = _window(probe)
    assert 175 * 60 <= g.window_s <= 180 * 60
    assert g.out.grid.size <= MAX_POINTS + 1  # a longer window, a coarser step: the cost stays bounded
    assert g.out.grid[0] == g.start.timestamp()
    ((promql, span, _),) = probe.ranges
    assert "count" in promql and "container_cpu_usage_seconds_total" in promql
    assert span == 240 * 60


def test_history_never_reads_beyond_its_bound() -> None:
    g = _window(_Probe(begins_s=24 * 3600))
    assert g.window_s == 240 * 60


def test_the_lookback_stays_when_there_is_no_earlier_data_or_no_answer() -> None:
    for probe in (_Probe(begins_s=100 * 60), _Probe(begins_s=None)):
        g = _window(probe)
        assert g.window_s == 120 * 60
        assert g.out.grid.size == 120 * 60 / g.step + 1


def test_no_probe_when_history_is_not_longer_than_the_lookback() -> None:
    probe = _Probe(begins_s=600 * 60)
    g = _window(probe, history=0)
    assert g.window_s == 120 * 60 and probe.ranges == []
