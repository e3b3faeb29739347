"""Early warnings in ``serve`` mode: the periodic job ``anomaly.watch``.

Each run reads every workload's CPU use and request rate over the lookback from Prometheus (the
capacity check's queries), scores each series with the streaming detector
(``bot.foresight.anomaly``) and warns of a series whose rows in the last run interval reach the
threshold, before any alert fires. A warning is claimed in the store before it is posted: one
per series and episode (nothing again within the cooldown), once across replicas. procrastinate
defers the job itself once per scheduled time, like ``capacity.check``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from bot.analysis.workloads import resolve_alert_workload
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.errors import TugboatError
from bot.domain.graph import GraphSpec
from bot.domain.series import Series
from bot.foresight.anomaly import score_series
from bot.ports.jobs import JobSpec
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store
from bot.services.capacity_metrics import Key, MetricWindow, container_rows, request_rate, summed
from bot.settings import Settings

log = logging.getLogger(__name__)

ANOMALY_JOB = "anomaly.watch"
ACTOR = "tugboat:anomaly"
GRAPH_S = 86_400.0  # the graph shows the last day


@dataclass(frozen=True)
class Measure:
    key: str  # part of the store's series key
    words: str  # how people say it
    unit: str  # the graph's unit


CPU = Measure("cpu", "CPU use", "cores")
REQUESTS = Measure("requests", "request rate", "req/s")


@dataclass(frozen=True)
class AnomalyWarning:
    workload: str
    namespace: str  # "" when the metrics carry none
    measure: Measure
    at: datetime  # the first row of the run interval at or above the threshold
    score: float  # that row's anomaly score
    graph: GraphSpec

    @property
    def series_key(self) -> str:
        return f"{self.namespace}/{self.workload}/{self.measure.key}"

    @property
    def described(self) -> str:
        """For logs: the measure and the workload, e.g. "CPU use of checkout (payments)"."""
        return f"{self.measure.words} of {self.workload}" + (f" ({self.namespace})" if self.namespace else "")


@dataclass
class WatchRun:
    scored: int = 0  # series scored
    warned: list[AnomalyWarning] = field(default_factory=list)  # claimed and posted
    held: list[str] = field(default_factory=list)  # due, but not posted, and why


Notify = Callable[[AnomalyWarning], None]


def run_interval_s(cron: str, at: datetime, floor_s: float) -> float:
    """Seconds since the schedule's previous time before ``at``: the rows this run is the first to
    see (``at`` is a scheduled time). At least ``floor_s``, one row."""
    from croniter import croniter

    if not cron:
        return floor_s
    previous = croniter(cron, at).get_prev(datetime)
    return max(floor_s, (at - previous).total_seconds())


class AnomalyWatch:
    def __init__(self, metrics: MetricsSource, store: Store, settings: Settings, notify: Notify) -> None:
        """``notify`` posts a claimed warning (the composition root's Slack post)."""
        self.metrics, self.store, self.settings, self.notify = metrics, store, settings, notify

    def run(self, at: datetime) -> WatchRun:
        s = self.settings
        window = MetricWindow(self.metrics, at, s.anomaly_lookback_hours, None, step_s=s.anomaly_step_s)
        keys = window.workloads()
        since = at.timestamp() - run_interval_s(s.anomaly_cron, at, window.step)
        alerting = self._alerting(window)
        run = WatchRun()
        for (ns, name), measure, values in self._series(window, keys):
            run.scored += 1
            found = self._judge(window, ns, name, measure, values, since)
            if found is None:
                continue
            if (ns, name) in alerting or ("", name) in alerting:
                run.held.append(f"{found.described}: an alert is already firing for it")
                continue
            event = AuditEvent(
                at=at,
                kind=AuditKind.ANOMALY_WARNED.value,
                actor=ACTOR,
                data={
                    "workload": name,
                    "namespace": ns,
                    "metric": measure.words,
                    "row_at": found.at.isoformat(),
                    "score": round(found.score, 4),
                },
            )
            cooldown = s.anomaly_cooldown_minutes * 60.0
            if not self.store.claim_warning(found.series_key, at, found.at, cooldown, event):
                run.held.append(f"{found.described}: already warned of within the cooldown")
                continue
            try:
                self.notify(found)
            except TugboatError as exc:  # claimed, so not posted twice; the other series go on
                log.warning("early warning for %s not posted: %s", found.described, exc)
                run.held.append(f"{found.described}: the post failed: {exc}")
                continue
            run.warned.append(found)
        return run

    def _series(self, window: MetricWindow, keys: list[Key]) -> list[tuple[Key, Measure, np.ndarray]]:
        """Each workload's CPU use (all its pods and containers) and request rate, on the grid."""
        names = set(self.metrics.metric_names(window.start, window.at))
        cpu, rates = window.cpu(), window.request_rates(names)
        out: list[tuple[Key, Measure, np.ndarray]] = []
        for key in keys:
            rows = container_rows(cpu, key, None)
            if rows is not None:
                out.append((key, CPU, summed(rows)))
            rate = request_rate(rates, key)
            if rate is not None:
                out.append((key, REQUESTS, rate[0]))
        return out

    def _judge(
        self, window: MetricWindow, ns: str, name: str, measure: Measure, values: np.ndarray, since: float
    ) -> AnomalyWarning | None:
        seen = np.isfinite(values)
        if not seen.any():
            return None
        first = int(np.argmax(seen))  # before its first sample a workload has no usual range
        stamps, values, seen = window.grid[first:], values[first:], seen[first:]
        scores = score_series(values, stamps)
        due = seen & (stamps > since) & (scores >= self.settings.anomaly_threshold)
        if not due.any():
            return None
        row = int(np.argmax(due))
        when = datetime.fromtimestamp(float(stamps[row]), UTC)
        where = f"{name} ({ns})" if ns else name
        day = seen & (stamps > window.at.timestamp() - GRAPH_S)
        marked = day & (scores >= self.settings.anomaly_threshold)
        graph = GraphSpec(
            name=f"{name}-{measure.key}-anomaly",
            title=f"{where}: {measure.words}, the last day",
            unit=measure.unit,
            series=[Series({"__name__": measure.words}, stamps[day], values[day])],
            onset=when,
            marks=Series({"__name__": "outside its usual range"}, stamps[marked], values[marked]),
        )
        return AnomalyWarning(name, ns, measure, when, float(scores[row]), graph)

    def _alerting(self, window: MetricWindow) -> set[Key]:
        """Workloads an alert group not resolved yet is about (read after ``workloads()``, which
        learns pod owners): an early warning for them would come late."""
        found: set[Key] = set()
        for record in self.store.list_incidents():
            if record.status == "resolved" or record.alert is None:
                continue
            for alert in (a for a in record.alert.alerts if a.status == "firing"):
                labels = {**record.alert.common_labels, **alert.labels}
                workload = resolve_alert_workload(labels, window.own)
                if workload:
                    found.add((labels.get("namespace", ""), workload))
        return found


def anomaly_job_spec(watch: AnomalyWatch, cron: str) -> JobSpec:
    def run(at: datetime) -> None:
        result = watch.run(at)
        log.info(
            "anomaly watch: %d series scored, %d warnings posted, %d held back",
            result.scored, len(result.warned), len(result.held),
        )  # fmt: skip
        for note in result.held:
            log.info("anomaly watch: no warning for %s", note)

    return JobSpec(ANOMALY_JOB, run, cron=cron)
