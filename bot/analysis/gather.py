"""Fetch the evidence an investigation needs from a MetricsSource, in parallel and bounded.

Three rounds: what exists (metric names, owners, deployments and the cAdvisor/kube-state series,
which need no discovery), then the label sets of the request metrics found, then the RED
queries built from what was discovered. Every query is evaluated as of ``at``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np

from bot.analysis import discovery as disc
from bot.analysis import queries as Q
from bot.analysis import red
from bot.analysis.fetched import Fetched
from bot.analysis.grid import to_grid, without_warmup
from bot.domain.deadline import Deadline
from bot.domain.errors import SourceTimedOut, SourceUnavailable, SourceUnreachable
from bot.ports.metrics import MetricsSource

log = logging.getLogger(__name__)

MAX_WORKERS = 8
MAX_POINTS = 400


class _Skipped(Exception):
    """A query not sent: the budget ran out, or Prometheus is not answering at all."""


class _Breaker:
    """Trips when a query times out or cannot connect before any query has been answered:
    the queries still waiting would only wait as long again (a hanging server, or none)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers = 0
        self.down: SourceUnavailable | None = None

    def answered(self) -> None:
        with self._lock:
            self._answers += 1

    def failed(self, exc: SourceUnavailable) -> None:
        with self._lock:
            if self._answers == 0 and self.down is None:
                self.down = exc


class Gatherer:
    def __init__(
        self,
        metrics: MetricsSource,
        namespace: str | None,
        at: datetime,
        lookback_minutes: int,
        alert_expr: str | None = None,
        history_minutes: int = 0,
        rate_window_s: float = 180.0,
        deadline: Deadline | None = None,
    ) -> None:
        self.metrics = metrics
        self.deadline = deadline
        self._breaker = _Breaker()
        self.at = at
        self.ns = namespace
        self.alert_expr = alert_expr
        self.rate_s = rate_window_s
        self.history_s = max(history_minutes, lookback_minutes) * 60.0
        self._window(lookback_minutes * 60.0)

    def _window(self, span: float) -> None:
        """Read ``span`` seconds up to the alert; the step grows with it, so every range query
        stays within MAX_POINTS points whatever the span."""
        self.start = datetime.fromtimestamp(self.at.timestamp() - span, UTC)
        self.step = float(max(30.0, np.ceil(span / MAX_POINTS / 15) * 15))
        grid = np.arange(self.start.timestamp(), self.at.timestamp() + 1e-6, self.step)
        self.out = Fetched(grid=grid, step=self.step, namespace=self.ns, alert_expr=self.alert_expr)
        self.window_s = span

    def _longer_history(self) -> None:
        """Read further back than the lookback where Prometheus has the namespace's CPU series
        (one coarse query): a baseline from before a series' warm-up, not from inside it."""
        span = self.window_s
        if self.history_s <= span:
            return
        start = datetime.fromtimestamp(self.at.timestamp() - self.history_s, UTC)
        step = float(max(60.0, np.ceil(self.history_s / 120 / 15) * 15))
        promql = Q.series_count("container_cpu_usage_seconds_total", self.ns)
        # Guarded like every query: a Prometheus that does not answer it trips the breaker, so
        # the rounds after it are not sent into the same wait; any failure keeps the lookback.
        found = self._run(
            {"history": lambda: self.metrics.range(promql, start, self.at, step, deadline=self.deadline)}
        ).get("history")
        if found is None:
            return
        times = [float(s.timestamps[np.isfinite(s.values)][0]) for s in found if np.isfinite(s.values).any()]
        if not times:
            return
        earliest = self.at.timestamp() - min(times)
        if earliest > span + step:
            self._window(min(self.history_s, earliest))

    @classmethod
    def empty(cls, namespace: str | None, at: datetime, lookback_minutes: int) -> Fetched:
        """The aligned, empty data of an investigation without metrics."""
        return cls(None, namespace, at, lookback_minutes).out  # type: ignore[arg-type]

    # -- helpers --------------------------------------------------------------------------
    def _range(self, name: str, promql: str, warmup: bool = False) -> list[tuple[dict[str, str], np.ndarray]]:
        self.out.queries[name] = promql
        result = self.metrics.range(promql, self.start, self.at, self.step, deadline=self.deadline)
        arrays = [(s.labels, to_grid(s, self.out.grid, self.step)) for s in result]
        if warmup:
            return [(labels, without_warmup(arr, self.step, self.rate_s)) for labels, arr in arrays]
        return arrays

    def _instant(self, name: str, promql: str) -> list[dict[str, str]]:
        self.out.queries[name] = promql
        return [s.labels for s in self.metrics.instant(promql, self.at, deadline=self.deadline)]

    def _values(self, name: str, promql: str) -> list[tuple[dict[str, str], float]]:
        self.out.queries[name] = promql
        return [(s.labels, float(s.values[-1])) for s in self.metrics.instant(promql, self.at) if len(s)]

    def _run(self, jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        skipped, unanswered = 0, 0
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            futures = {name: pool.submit(self._guarded, job) for name, job in jobs.items()}
            for name, fut in futures.items():
                try:
                    results[name] = fut.result()
                except _Skipped:
                    skipped += 1
                except (SourceTimedOut, SourceUnreachable) as exc:
                    if self._breaker.down is not None and unanswered:
                        unanswered += 1  # the same story as the first one: counted, not repeated
                        continue
                    unanswered += 1
                    self.out.failures.append(f"{name}: {exc}")
                except SourceUnavailable as exc:
                    self.out.failures.append(f"{name}: {exc}")
                except Exception as exc:  # a bad query must not sink the investigation
                    log.warning("query %s failed: %s", name, exc)
                    self.out.failures.append(f"{name}: {type(exc).__name__}: {exc}")
        if self._breaker.down is not None and unanswered > 1:
            self.out.failures.append(f"{unanswered - 1} more queries failed the same way")
        if skipped:
            self.out.failures.append(f"{skipped} more queries not sent: {self._skip_reason()}")
        return results

    def _guarded(self, job: Callable[[], Any]) -> Any:
        """Run a query unless the budget is spent or Prometheus has shown it will not answer."""
        if self._skip_reason():
            raise _Skipped
        try:
            value = job()
        except (SourceTimedOut, SourceUnreachable) as exc:
            self._breaker.failed(exc)
            raise
        self._breaker.answered()
        return value

    def _skip_reason(self) -> str:
        if self._breaker.down is not None:
            return "Prometheus answered none of the first queries"
        if self.deadline is not None and self.deadline.expired:
            return f"{self.deadline.describe()} ran out"
        return ""

    # -- rounds ---------------------------------------------------------------------------
    def fetch(self) -> Fetched:
        self._longer_history()
        self._round_one()
        if not self.out.ok or self._skip_reason():
            return self.out  # nothing answered, or no time left: do not pile more queries on top
        label_sets = self._round_two()
        self._round_three(label_sets)
        return self.out

    def _round_one(self) -> None:
        ns, w = self.ns, self.window_s
        jobs: dict[str, Callable[[], Any]] = {
            "names": lambda: self.metrics.metric_names(self.start, self.at, deadline=self.deadline),
            "pod_owner": lambda: self._instant(
                "pod_owner", Q.over_window("kube_pod_owner", ns, ("pod", "owner_kind", "owner_name"), w)
            ),
            "rs_owner": lambda: self._instant(
                "rs_owner",
                Q.over_window("kube_replicaset_owner", ns, ("replicaset", "owner_kind", "owner_name"), w),
            ),
            "images": lambda: self._instant(
                "images", Q.over_window("kube_pod_container_info", ns, ("pod", "container", "image"), w)
            ),
            "hpa_info": lambda: self._instant(
                "hpa_info",
                Q.over_window(
                    "kube_horizontalpodautoscaler_info",
                    ns,
                    ("horizontalpodautoscaler", "scaletargetref_name"),
                    w,
                ),
            ),
        }
        rates = {
            "cpu": "container_cpu_usage_seconds_total",
            "thr": "container_cpu_cfs_throttled_periods_total",
            "periods": "container_cpu_cfs_periods_total",
        }
        for key, metric in rates.items():
            jobs[key] = partial(self._range, key, Q.per_container_rate(metric, ns, self.rate_s), True)
        jobs["mem"] = lambda: self._range(
            "mem", Q.per_container_max("container_memory_working_set_bytes", ns)
        )
        jobs["restarts"] = lambda: self._range(
            "restarts", Q.per_container_max("kube_pod_container_status_restarts_total", ns)
        )
        jobs["limits"] = lambda: self._range("limits", Q.per_container_limits(ns))
        jobs["requests"] = lambda: self._range("requests", Q.per_container_limits(ns, "requests"))
        jobs["pod_node"] = lambda: self._instant(
            "pod_node", Q.over_window("kube_pod_info", ns, ("pod", "node"), w)
        )
        jobs["allocatable"] = lambda: self._values("allocatable", Q.node_allocatable())
        jobs["machine_cores"] = lambda: self._values("machine_cores", Q.machine_cores())
        jobs["terminated"] = lambda: self._range(
            "terminated", Q.per_container_reason("kube_pod_container_status_last_terminated_reason", ns)
        )
        jobs["waiting"] = lambda: self._range(
            "waiting", Q.per_container_reason("kube_pod_container_status_waiting_reason", ns)
        )
        deploy = {
            "spec": "kube_deployment_spec_replicas",
            "available": "kube_deployment_status_replicas_available",
        }
        for key, metric in deploy.items():
            jobs[f"deploy_{key}"] = partial(
                self._range, f"deploy_{key}", Q.by_label_max(metric, ns, "deployment")
            )
        hpa = {
            "max": "kube_horizontalpodautoscaler_spec_max_replicas",
            "min": "kube_horizontalpodautoscaler_spec_min_replicas",
            "current": "kube_horizontalpodautoscaler_status_current_replicas",
        }
        for key, metric in hpa.items():
            jobs[f"hpa_{key}"] = partial(
                self._range, f"hpa_{key}", Q.by_label_max(metric, ns, "horizontalpodautoscaler")
            )
        if self.out.alert_expr:
            expr = self.out.alert_expr
            jobs["alert"] = lambda: self._range("alert", expr)
        res = self._run(jobs)
        self._absorb_round_one(res)

    def _absorb_round_one(self, res: dict[str, Any]) -> None:
        out = self.out
        out.names = set(res.get("names") or [])
        own = out.ownership
        for ls in res.get("pod_owner") or []:
            if ls.get("pod") and ls.get("owner_name"):
                own.pod_owner[ls["pod"]] = (ls.get("owner_kind", ""), ls["owner_name"])
        for ls in res.get("rs_owner") or []:
            if ls.get("replicaset") and ls.get("owner_name"):
                own.replicaset_owner[ls["replicaset"]] = ls["owner_name"]
        for key in ("cpu", "thr", "periods", "mem", "restarts"):
            out.container[key] = {
                (ls.get("pod", ""), ls.get("container", "")): arr for ls, arr in res.get(key) or []
            }
        for key in ("limits", "requests"):
            setattr(
                out,
                key,
                {
                    (ls.get("pod", ""), ls.get("container", ""), ls.get("resource", "")): arr
                    for ls, arr in res.get(key) or []
                },
            )
        out.pod_node = {
            ls["pod"]: ls["node"] for ls in res.get("pod_node") or [] if ls.get("pod") and ls.get("node")
        }
        self._node_capacity(res)
        for key in ("terminated", "waiting"):
            setattr(
                out,
                key,
                {
                    (ls.get("pod", ""), ls.get("container", ""), ls.get("reason", "")): arr
                    for ls, arr in res.get(key) or []
                },
            )
        for ls in res.get("images") or []:
            out.images[(ls.get("pod", ""), ls.get("container", ""))] = ls.get("image", "")
        for key in ("spec", "available"):
            for ls, arr in res.get(f"deploy_{key}") or []:
                if ls.get("deployment"):
                    out.deployments.setdefault(ls["deployment"], {})[key] = arr
        for key in ("max", "min", "current"):
            for ls, arr in res.get(f"hpa_{key}") or []:
                if ls.get("horizontalpodautoscaler"):
                    out.hpas.setdefault(ls["horizontalpodautoscaler"], {})[key] = arr
        for ls in res.get("hpa_info") or []:
            if ls.get("horizontalpodautoscaler") and ls.get("scaletargetref_name"):
                out.hpa_target[ls["horizontalpodautoscaler"]] = ls["scaletargetref_name"]
        out.alert_series = list(res.get("alert") or [])
        own.known |= set(own.replicaset_owner.values()) | set(out.deployments)
        own.known |= {name for kind, name in own.pod_owner.values() if kind != "ReplicaSet"}
        own.known |= {own.workload_of_pod(p) for p, _ in out.container.get("cpu", {})}

    def _node_capacity(self, res: dict[str, Any]) -> None:
        """Allocatable CPU and memory per node; cAdvisor's core count where kube-state-metrics is absent."""
        nodes = set(self.out.pod_node.values())
        for ls, value in res.get("machine_cores") or []:
            if ls.get("node") in nodes:
                self.out.node_capacity[(ls["node"], "cpu")] = value
        for ls, value in res.get("allocatable") or []:
            if ls.get("node") in nodes and ls.get("resource") in ("cpu", "memory"):
                self.out.node_capacity[(ls["node"], ls["resource"])] = value

    def _round_two(self) -> dict[str, list[dict[str, str]]]:
        names = self.out.names
        self.servers = red.server_candidates(names)
        self.clients = disc.client_candidates(names)[:2]
        jobs: dict[str, Callable[[], Any]] = {}
        for name in [*self.servers, *self.clients]:
            jobs[name] = partial(
                self.metrics.series, Q.series_match(name, self.ns), self.start, self.at, self.deadline
            )
        return self._run(jobs)

    def _round_three(self, label_sets: dict[str, list[dict[str, str]]]) -> None:
        out = self.out
        known = out.ownership.known
        picks = red.pick_servers(self.servers, label_sets, known, out.names)
        client = red.pick_client(self.clients, label_sets, known)
        out.server_metric = picks[0] if picks else None
        out.client_metric = client
        jobs = red.jobs(self._range, self.ns, self.rate_s, picks, client, label_sets)
        red.absorb(out, picks, client, self._run(jobs))
