"""A workload's usage and request-rate history over one window, read from Prometheus: what
capacity forecasts and rightsizing both start from, keyed by (namespace, workload)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from bot.analysis import discovery as disc
from bot.analysis import red
from bot.analysis.grid import to_grid
from bot.analysis.workloads import Ownership
from bot.ports.metrics import MetricsSource
from bot.ports.promql import Matcher, aggregate, over_range, selector

MAX_POINTS = 1800
RATE_WINDOW_S = 300
Key = tuple[str, str]  # (namespace, workload)
PER_CONTAINER = ("namespace", "pod", "container")


class MetricWindow:
    """Range and instant queries over one window, on one grid, keyed by (namespace, workload)."""

    def __init__(
        self,
        metrics: MetricsSource,
        at: datetime,
        hours: float,
        namespace: str | None,
        step_s: float | None = None,
    ) -> None:
        """``step_s``: the grid's resolution; by default one that keeps the window to MAX_POINTS."""
        self.metrics, self.at, self.namespace = metrics, at, namespace
        self.start = at - timedelta(hours=hours)
        span = hours * 3600.0
        self.step = step_s or max(300.0, math.ceil(span / MAX_POINTS / 60) * 60)
        self.grid = np.arange(self.start.timestamp(), at.timestamp() + 1e-6, self.step)
        self.window_s = span
        self.own = Ownership()

    def sel(self, metric: str, *extra: Matcher) -> str:
        return selector(metric, Matcher("namespace", self.namespace) if self.namespace else None, *extra)

    def seen(self, metric: str, labels: tuple[str, ...]) -> str:
        """Every label set of ``metric`` seen in the window, evaluated once at its end."""
        return aggregate("max", over_range("max_over_time", self.sel(metric), self.window_s), labels)

    def range(self, promql: str) -> list[tuple[dict[str, str], np.ndarray]]:
        result = self.metrics.range(promql, self.start, self.at, self.step)
        return [(s.labels, to_grid(s, self.grid, self.step)) for s in result]

    def instant(self, promql: str) -> list[tuple[dict[str, str], float]]:
        return [(s.labels, float(s.values[0])) for s in self.metrics.instant(promql, self.at)]

    def workloads(self) -> list[Key]:
        """Deployments and StatefulSets kube-state-metrics saw in the window; learns pod owners."""
        found: set[Key] = set()
        for metric, label in (
            ("kube_deployment_spec_replicas", "deployment"),
            ("kube_statefulset_replicas", "statefulset"),
        ):
            seen = self.instant(self.seen(metric, ("namespace", label)))
            found |= {(ls.get("namespace", ""), ls[label]) for ls, _ in seen if ls.get(label)}
        owners = (("kube_pod_owner", "pod"), ("kube_replicaset_owner", "replicaset"))
        for metric, label in owners:
            for ls, _ in self.instant(self.seen(metric, (label, "owner_kind", "owner_name"))):
                if label == "pod" and ls.get("pod") and ls.get("owner_name"):
                    self.own.pod_owner[ls["pod"]] = (ls.get("owner_kind", ""), ls["owner_name"])
                elif ls.get("replicaset") and ls.get("owner_name"):
                    self.own.replicaset_owner[ls["replicaset"]] = ls["owner_name"]
        self.own.known |= {name for _, name in found}
        return sorted(found)

    def per_pod(self, promql: str) -> dict[tuple[str, str, str], np.ndarray]:
        """(namespace, workload, container) -> rows (one per pod) of a per-container query."""
        rows: dict[tuple[str, str, str], list[np.ndarray]] = {}
        for ls, arr in self.range(promql):
            workload = self.own.workload_of_pod(ls.get("pod", ""))
            rows.setdefault((ls.get("namespace", ""), workload, ls.get("container", "")), []).append(arr)
        return {k: np.vstack(v) for k, v in rows.items()}

    def cpu(self) -> dict[tuple[str, str, str], np.ndarray]:
        sel = self.sel(
            "container_cpu_usage_seconds_total",
            Matcher("container", "", "!="),
            Matcher("container", "POD", "!="),
        )
        return self.per_pod(aggregate("sum", over_range("rate", sel, RATE_WINDOW_S), PER_CONTAINER))

    def request_rates(self, names: set[str]) -> dict[Key, tuple[np.ndarray, str]]:
        """Requests/s per workload, from the first discovered request metric that covers it."""
        return {key: (r.rps, r.metric) for key, r in self.red_rows(names, full=False).items()}

    def red_rows(self, names: set[str], *, full: bool = True, quantile: float = 0.95) -> dict[Key, RedRows]:
        """Per workload, from the first discovered request metric that covers it (the
        investigation's discovery, ``bot.analysis.red``): requests/s and, when ``full``, errors/s
        and the latency ``quantile`` where the metric has a status code or a histogram."""
        servers = red.server_candidates(names)
        label_sets = {n: self.metrics.series(self.sel(n), self.start, self.at) for n in servers}
        out: dict[Key, RedRows] = {}
        for metric in red.pick_servers(servers, label_sets, self.own.known, names):
            label = metric.workload_label or "pod"
            group = ("namespace", label)
            queries = red.server_queries(metric, self.namespace, group, RATE_WINDOW_S, label_sets, quantile)
            if not full:
                queries = {"rps": queries["rps"]}
            per = {
                k: self._per_workload(q, label, np.fmax if k == "latency" else _add)
                for k, q in queries.items()
            }
            for key, rps in per["rps"].items():
                if key not in out:
                    errors = per["err"].get(key) if "err" in per else None
                    latency = per["latency"].get(key) if "latency" in per else None
                    out[key] = RedRows(metric.name, rps, "err" in per, errors, latency)
        return out

    def _per_workload(
        self, promql: str, label: str, combine: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> dict[Key, np.ndarray]:
        """A ``(namespace, label)`` query's rows per workload; pods of one workload combined."""
        per: dict[Key, np.ndarray] = {}
        for ls, arr in self.range(promql):
            raw = ls.get(label, "")
            name = self.own.workload_of_pod(raw) if label == "pod" else disc.normalize_workload_value(raw)
            key = (ls.get("namespace", ""), name)
            per[key] = combine(per[key], arr) if key in per else arr
        return per


@dataclass(frozen=True)
class RedRows:
    """A workload's request metrics on the window's grid."""

    metric: str  # the request metric they were read from
    rps: np.ndarray  # requests/s
    has_status: bool  # the metric carries a status code: no errors/s row means none
    errors: np.ndarray | None  # errors/s; None when no error was counted in the window
    latency: np.ndarray | None  # the latency quantile in seconds, when the metric has a histogram

    def error_ratio(self) -> np.ndarray | None:
        """Errors per request; NaN where there were no requests. None without a status code."""
        if not self.has_status:
            return None
        errors = np.zeros_like(self.rps) if self.errors is None else np.nan_to_num(self.errors)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.rps > 0, errors / self.rps, np.nan)


def container_rows(
    per: dict[tuple[str, str, str], np.ndarray], key: Key, container: str | None
) -> np.ndarray | None:
    """The pods' rows for the workload's container (all its containers when none is named so)."""
    ns_key, name = key  # an empty namespace on either side matches any
    mine = {
        c: arr for (ns, wl, c), arr in per.items() if wl == name and (ns == ns_key or not ns or not ns_key)
    }
    if not mine:
        return None
    if container in mine:
        return mine[container]
    return np.vstack(list(mine.values()))


def summed(rows: np.ndarray) -> np.ndarray:
    """The pods' rows added up; NaN where no pod has a sample."""
    return np.where(np.isfinite(rows).any(axis=0), np.nansum(rows, axis=0), np.nan)


def request_rate(rates: dict[Key, tuple[np.ndarray, str]], key: Key) -> tuple[np.ndarray, str] | None:
    """The workload's requests/s and its metric; a request metric without a namespace matches any."""
    return rates.get(key) or rates.get(("", key[1]))


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum where either has a value; NaN where neither does."""
    return np.where(np.isnan(a) & np.isnan(b), np.nan, np.nan_to_num(a) + np.nan_to_num(b))
