"""Early warnings in ``serve`` mode: the periodic job ``anomaly.watch``.

Each run reads every workload's CPU use, request rate, error ratio and p95 latency over the
lookback from Prometheus (the capacity check's CPU query; the request metrics the investigation
discovers, ``bot.analysis.red``, with their status code and latency histogram where they have
one), scores each series with the streaming detector (``bot.foresight.anomaly``) and warns of a
series whose rows in the last run interval reach the threshold, before any alert fires. Error
ratio and latency warn only when they rise (a drop is good news), an error ratio only from
``anomaly_min_error_ratio`` on. A warning is claimed in the store before it is posted: one per
series and episode (nothing again within the cooldown), once across replicas; its post is
durable (``bot.services.anomaly_posts``): tried again until it is out or the cooldown is over.
procrastinate defers the job itself once per scheduled time, like ``capacity.check``.

Each run scores the whole lookback of every series again: the detector's score of the newest
row depends on up to ``Ensemble().span`` rows (12,660), far more than the 2,016 five-minute rows
of the default week, so a shorter lookback would change what it finds (``anomaly_lookback_hours``
trades the two).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from bot.analysis.workloads import resolve_alert_workload
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.graph import GraphSpec
from bot.domain.series import Series
from bot.foresight.anomaly import score_series
from bot.ports.jobs import JobSpec
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store
from bot.services.anomaly_posts import ACTOR, WarningPosts
from bot.services.anomaly_warning import CPU, ERRORS, LATENCY, REQUESTS, AnomalyWarning, Measure
from bot.services.capacity_metrics import Key, MetricWindow, container_rows, summed
from bot.settings import Settings

log = logging.getLogger(__name__)

ANOMALY_JOB = "anomaly.watch"
GRAPH_S = 86_400.0  # the graph shows the last day
RISE_ONLY = (ERRORS, LATENCY)  # fewer errors, faster answers: no warning


@dataclass
class WatchRun:
    scored: int = 0  # series scored
    warned: list[AnomalyWarning] = field(default_factory=list)  # claimed (and posted, or queued)
    held: list[str] = field(default_factory=list)  # due, but not posted, and why


def run_interval_s(cron: str, at: datetime, floor_s: float) -> float:
    """Seconds since the schedule's previous time before ``at``: the rows this run is the first to
    see (``at`` is a scheduled time). At least ``floor_s``, one row."""
    from croniter import croniter

    if not cron:
        return floor_s
    previous = croniter(cron, at).get_prev(datetime)
    return max(floor_s, (at - previous).total_seconds())


class AnomalyWatch:
    def __init__(self, metrics: MetricsSource, store: Store, settings: Settings, posts: WarningPosts) -> None:
        """``posts`` posts each claimed warning (a job with a queue, else at once)."""
        self.metrics, self.store, self.settings, self.posts = metrics, store, settings, posts

    def job_specs(self) -> list[JobSpec]:
        """The periodic watch and the post of each warning."""
        return [anomaly_job_spec(self, self.settings.anomaly_cron), *self.posts.job_specs()]

    def run(self, at: datetime) -> WatchRun:
        s = self.settings
        window = MetricWindow(self.metrics, at, s.anomaly_lookback_hours, None, step_s=s.anomaly_step_s)
        keys = window.workloads()
        since = at.timestamp() - run_interval_s(s.anomaly_cron, at, window.step)
        alerting = self._alerting(window)

        def fires(ns: str, name: str) -> bool:
            return (ns, name) in alerting or ("", name) in alerting

        cooldown = s.anomaly_cooldown_minutes * 60.0
        run = WatchRun(held=self.posts.resume(at, cooldown, fires))  # earlier warnings not out yet
        for (ns, name), measure, values in self._series(window, keys):
            run.scored += 1
            found = self._judge(window, ns, name, measure, values, since)
            if found is None:
                continue
            if fires(ns, name):
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
            if not self.store.claim_warning(found.series_key, at, found.at, cooldown, event, found.to_post()):
                run.held.append(f"{found.described}: already warned of within the cooldown")
                continue
            failed = self.posts.post_later(found.series_key, at)
            if failed is not None:  # pending: the next run tries again
                run.held.append(f"{found.described}: the post failed ({failed}); tried again later")
                continue
            run.warned.append(found)
        return run

    def _series(self, window: MetricWindow, keys: list[Key]) -> list[tuple[Key, Measure, np.ndarray]]:
        """Each workload's CPU use (all its pods and containers), request rate, error ratio and
        p95 latency (those its request metric has), on the grid."""
        names = set(self.metrics.metric_names(window.start, window.at))
        cpu, rates = window.cpu(), window.red_rows(names, quantile=0.95)
        out: list[tuple[Key, Measure, np.ndarray]] = []
        for key in keys:
            rows = container_rows(cpu, key, None)
            if rows is not None:
                out.append((key, CPU, summed(rows)))
            red = rates.get(key) or rates.get(("", key[1]))  # a metric without a namespace: any
            if red is None:
                continue
            ratio = red.error_ratio()
            for measure, values in ((REQUESTS, red.rps), (ERRORS, ratio), (LATENCY, red.latency)):
                if values is not None:
                    out.append((key, measure, values))
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
        if measure in RISE_ONLY and due.any():  # above the last day's median: worse, not better
            due &= values > np.median(values[seen & (stamps > window.at.timestamp() - GRAPH_S)])
        if measure is ERRORS:  # one failed request after a clean week is unusual, and no news
            due &= values >= self.settings.anomaly_min_error_ratio
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
        learns pod owners): an early warning for them would come late. Only the firing groups
        are read (``incidents.status`` is indexed), not every incident ever stored."""
        found: set[Key] = set()
        for record in self.store.list_incidents(["firing"]):
            if record.alert is None:
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
            "anomaly watch: %d series scored, %d warnings claimed, %d held back",
            result.scored, len(result.warned), len(result.held),
        )  # fmt: skip
        for note in result.held:
            log.info("anomaly watch: no warning for %s", note)

    return JobSpec(ANOMALY_JOB, run, cron=cron)
