"""Did a merged fix work? Re-evaluate the alert and the decisive metric after the merge.

Two signals, both read through ``MetricsSource`` as of an explicit time:

* the alert's own expression (from its ``generatorURL``): recovered when it has returned no
  series for the last ``verify_sustain_minutes``;
* the decisive metric of the top root cause (the query of its first Prometheus evidence):
  recovered when its last ``verify_sustain_minutes`` sit back within a robust band around the
  pre-onset baseline (median and MAD, ``bot.analysis.onset.robust_baseline``).

Either signal may be missing (no generatorURL, no metric evidence); recovery needs every signal
that could be read. Before ``verify_window_minutes`` have passed an unrecovered watch is
"pending"; after, it is "not_recovered".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from bot.analysis.onset import robust_baseline
from bot.domain.alert import now_utc
from bot.domain.errors import TugboatError
from bot.domain.graph import GraphSpec, Threshold
from bot.domain.series import Series
from bot.ports.gitops import GitOpsSync
from bot.ports.metrics import MetricsSource
from bot.ports.store import IncidentRecord
from bot.settings import Settings

VerdictStatus = Literal["recovered", "not_recovered", "pending"]
# The band around the baseline: k robust standard deviations, a share of the baseline level, and
# a share of how far the incident moved the metric (so a zero, noiseless baseline still has one).
BAND_K, BAND_REL, BAND_EXCURSION = 4.0, 0.25, 0.1
# The baseline ends this long before the alert started: a metric moves before a rule fires.
ONSET_MARGIN = timedelta(minutes=10)
MIN_BASELINE_POINTS = 5
MIN_TAIL_POINTS = 3
TAIL_SHARE = 0.8  # of the tail points inside the band: one stray scrape does not undo a recovery


@dataclass(frozen=True)
class Verdict:
    status: VerdictStatus
    observation: str
    graph: GraphSpec | None = None
    sync: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """What the audit trail records (the graph is a picture, not a fact)."""
        return {"status": self.status, "observation": self.observation, "sync": self.sync, **self.details}


@dataclass(frozen=True)
class _AlertCheck:
    clear: bool
    text: str


@dataclass(frozen=True)
class _MetricCheck:
    back: bool
    text: str
    series: list[Series]
    band: Threshold | None


def decisive_query(incident: IncidentRecord) -> str | None:
    """The query of the top cause's first Prometheus evidence that is not the alert rule itself."""
    report = incident.report
    alert_expr = incident.alert.primary.expr if incident.alert else None
    if report is None or report.top is None:
        return None
    for evidence in report.top.evidence:
        if evidence.source == "prometheus" and evidence.query and evidence.query != alert_expr:
            return evidence.query
    return None


@dataclass(frozen=True)
class Signals:
    """What a watch reads, fixed at the merge: a later re-fire resets the incident's report and
    start time, but the fix is still judged against the incident it was meant for."""

    alert_expr: str | None
    query: str | None
    onset: datetime | None
    service: str | None
    namespace: str | None

    @classmethod
    def of(cls, incident: IncidentRecord) -> Signals:
        service, namespace = service_of(incident)
        expr = incident.alert.primary.expr if incident.alert else None
        onset = _utc(incident.started_at) if incident.started_at else None
        return cls(expr, decisive_query(incident), onset, service, namespace)

    def public(self) -> dict[str, Any]:
        return {
            "alert_expr": self.alert_expr,
            "query": self.query,
            "onset": self.onset.isoformat() if self.onset else None,
            "service": self.service,
            "namespace": self.namespace,
        }

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> Signals:
        onset = data.get("onset")
        return cls(
            data.get("alert_expr"),
            data.get("query"),
            datetime.fromisoformat(onset) if onset else None,
            data.get("service"),
            data.get("namespace"),
        )


class RecoveryWatcher:
    def __init__(
        self,
        metrics: MetricsSource,
        settings: Settings,
        clock: Callable[[], datetime] = now_utc,
        gitops: GitOpsSync | None = None,
    ) -> None:
        self.metrics, self.settings, self.clock = metrics, settings, clock
        self.gitops = gitops

    def check(self, incident: IncidentRecord, merged_at: datetime, now: datetime | None = None) -> Verdict:
        """Raises ``SourceUnavailable`` when Prometheus cannot answer (try again on the next tick)."""
        return self.evaluate(Signals.of(incident), merged_at, now)

    def evaluate(self, signals: Signals, merged_at: datetime, now: datetime | None = None) -> Verdict:
        now = _utc(now or self.clock())
        merged_at = _utc(merged_at)
        s = self.settings
        window, sustain = (
            timedelta(minutes=s.verify_window_minutes),
            timedelta(minutes=s.verify_sustain_minutes),
        )
        onset = signals.onset
        start = min(merged_at, onset or merged_at) - timedelta(minutes=s.lookback_minutes)
        expr, query = signals.alert_expr, signals.query
        alert = self._alert(expr, start, now, sustain) if expr else None
        metric = self._metric(query, start, now, merged_at, onset, sustain) if query else None
        checks = [c for c in (alert, metric) if c is not None]
        passed = [c.clear if isinstance(c, _AlertCheck) else c.back for c in checks]
        held_long_enough = now - merged_at >= sustain
        recovered = bool(checks) and all(passed) and held_long_enough
        if recovered:
            status: VerdictStatus = "recovered"
        elif now >= merged_at + window:
            status = "not_recovered"
        else:
            status = "pending"
        texts = [c.text for c in checks] or [
            "neither the alert expression nor a metric of the root cause is known, so nothing was checked"
        ]
        if not held_long_enough and all(passed) and checks:
            texts.append(f"waiting until {s.verify_sustain_minutes} min after the merge")
        sync = self._sync(signals, now)
        graph = self._graph(signals, metric, merged_at) if status != "pending" else None
        details = {
            "merged_at": merged_at.isoformat(),
            "checked_at": now.isoformat(),
            "query": query,
            "signals": len(checks),  # 0: nothing could be read, so the verdict rests on no evidence
        }
        return Verdict(status, "; ".join(texts), graph, sync, details)

    # -- the two signals -------------------------------------------------------------------
    def _alert(self, expr: str, start: datetime, now: datetime, sustain: timedelta) -> _AlertCheck:
        step = self.settings.verify_step_s
        found = self.metrics.range(expr, start, now, step)
        times = [
            float(t) for s in found for t, v in zip(s.timestamps, s.values, strict=True) if np.isfinite(v)
        ]
        if not times:
            return _AlertCheck(True, "the alert expression returned nothing in the whole window")
        last = datetime.fromtimestamp(max(times), UTC)
        quiet = now - last
        if quiet >= sustain:
            return _AlertCheck(True, f"the alert expression has returned nothing since {last:%H:%M} UTC")
        return _AlertCheck(False, f"the alert condition still held at {last:%H:%M} UTC")

    def _metric(
        self,
        query: str,
        start: datetime,
        now: datetime,
        merged_at: datetime,
        onset: datetime | None,
        sustain: timedelta,
    ) -> _MetricCheck | None:
        found = [s for s in self.metrics.range(query, start, now, self.settings.verify_step_s) if len(s)]
        if not found:
            return _MetricCheck(False, f"the decisive metric returned no data (`{query}`)", [], None)
        ts, values = _upper_envelope(found)
        baseline_end = (onset - ONSET_MARGIN) if onset else start + (merged_at - start) / 2
        base = values[ts <= baseline_end.timestamp()]
        if np.isfinite(base).sum() < MIN_BASELINE_POINTS:
            return None  # no history before the onset: the metric cannot say what normal was
        med, mad = robust_baseline(base)
        during = values[(ts > baseline_end.timestamp()) & (ts <= merged_at.timestamp())]
        during = during[np.isfinite(during)]
        peak = float(during.max()) if during.size else med
        trough = float(during.min()) if during.size else med
        up = peak - med >= med - trough
        excursion = abs((peak if up else trough) - med)
        tolerance = max(BAND_K * mad, BAND_REL * abs(med), BAND_EXCURSION * excursion, 1e-12)
        edge = med + tolerance if up else med - tolerance
        tail = values[(ts >= (now - sustain).timestamp()) & (ts > merged_at.timestamp())]
        tail = tail[np.isfinite(tail)]
        band = Threshold(edge, f"baseline {_num(med)} ± {_num(tolerance)}")
        if tail.size < MIN_TAIL_POINTS:
            return _MetricCheck(False, "the decisive metric has too few points since the merge", found, band)
        inside = (tail <= edge) if up else (tail >= edge)
        current = float(np.median(tail))
        extreme = f"{'peak' if up else 'low'} {_num(peak if up else trough)}"
        level = f"at {_num(current)} (baseline {_num(med)}, {extreme})"
        if inside.mean() >= TAIL_SHARE and (current <= edge if up else current >= edge):
            return _MetricCheck(True, f"the decisive metric is back near its baseline: {level}", found, band)
        return _MetricCheck(
            False, f"the decisive metric is still away from its baseline: {level}", found, band
        )

    # -- presentation ----------------------------------------------------------------------
    def _sync(self, signals: Signals, now: datetime) -> str | None:
        if self.gitops is None or not self.gitops.configured:
            return None
        service, namespace = signals.service, signals.namespace
        try:
            status = self.gitops.status(service, namespace, now)
        except TugboatError as exc:  # the verdict does not depend on it
            return f"sync status unavailable: {exc}"
        if status is None:
            return f"{self.gitops.tool}: no status exported for `{self.gitops.app_name(service, namespace)}`"
        return status.text()

    def _graph(self, signals: Signals, metric: _MetricCheck | None, merged_at: datetime) -> GraphSpec | None:
        if metric is None or not metric.series:
            return None
        service = signals.service
        return GraphSpec(
            name=f"recovery-{service or 'service'}",
            title=f"{service or 'decisive metric'} after the merge",
            unit="",
            series=metric.series,
            onset=signals.onset,
            at=merged_at,
            at_label=f"merged {merged_at:%H:%M}",
            thresholds=[metric.band] if metric.band else [],
        )


def service_of(incident: IncidentRecord) -> tuple[str | None, str | None]:
    report = incident.report
    labels = {**incident.alert.common_labels, **incident.alert.primary.labels} if incident.alert else {}
    service = (report.service if report else None) or labels.get("service") or labels.get("app")
    namespace = (report.namespace if report else None) or labels.get("namespace")
    return service, namespace


def _upper_envelope(found: list[Series]) -> tuple[np.ndarray, np.ndarray]:
    """One value per timestamp: the highest across series, so pods replaced by a rollout (new
    names, new series) still read as one signal."""
    ts = np.unique(np.concatenate([s.timestamps for s in found]))
    grid = np.full((len(found), ts.size), np.nan)
    for row, s in enumerate(found):
        grid[row, np.searchsorted(ts, s.timestamps)] = s.values
    with np.errstate(all="ignore"):
        finite = np.isfinite(grid).any(axis=0)
        values = np.where(finite, np.nanmax(np.where(np.isfinite(grid), grid, -np.inf), axis=0), np.nan)
    return ts, values


def _num(value: float) -> str:
    return f"{value:.3g}"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
