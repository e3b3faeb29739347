"""What the hypotheses reason over: signals, the call graph, the alert's own condition, changes."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from bot.analysis.fetched import Fetched
from bot.analysis.onset import NO_SHIFT, Shift, detect_shift
from bot.analysis.signals import RULES, WorkloadSignals
from bot.ports.gitrepo import WorkloadChange

_CPU_METRIC = re.compile(r"[A-Za-z_:]*cpu[A-Za-z_:]*")


@dataclass
class Context:
    signals: dict[str, WorkloadSignals]
    grid: np.ndarray
    at: float
    baseline_end: float
    namespace: str | None = None
    alert_workload: str | None = None
    alert_active: bool | None = None  # the alert's own condition holds at ``at``
    alert_fired: bool | None = None  # ... held at some point in the window
    alert_onset: float | None = None
    alert_last_true: float | None = None
    edges: dict[tuple[str, str], Shift] = field(default_factory=dict)
    edge_series: dict[tuple[str, str], dict[str, np.ndarray]] = field(default_factory=dict)
    changes: list[WorkloadChange] = field(default_factory=list)
    queries: dict[str, str] = field(default_factory=dict)
    alert_expr: str | None = None
    namespace_rps: np.ndarray | None = None
    log_notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def alert_cleared(self) -> bool:
        return self.alert_active is False and bool(self.alert_fired)

    @property
    def callees(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for caller, callee in self.edge_series:
            if caller != callee:
                out.setdefault(caller, []).append(callee)
        return out

    @property
    def alert_measures_cpu(self) -> bool:
        return bool(self.alert_expr and _CPU_METRIC.search(self.alert_expr))

    @property
    def alert_onset_fits_change(self) -> float | None:
        """When the alert's own condition began, if it measures what a broken release shows (errors,
        latency, restarts, memory) rather than CPU saturation, which a capacity limit explains."""
        if self.alert_onset is None or not self.alert_expr or self.alert_measures_cpu:
            return None
        return self.alert_onset

    def edge_shift(self, caller: str, callee: str) -> Shift:
        return self.edges.get((caller, callee), NO_SHIFT)

    def changes_for(self, workload: str) -> list[WorkloadChange]:
        return [c for c in self.changes if c.workload == workload]

    def hops_from_alert(self) -> dict[str, int]:
        """Distance of each workload downstream of the alerting one in the call graph."""
        if not self.alert_workload:
            return {}
        callees = self.callees
        dist = {self.alert_workload: 0}
        queue = deque([self.alert_workload])
        while queue:
            node = queue.popleft()
            for nxt in callees.get(node, []):
                if nxt not in dist:
                    dist[nxt] = dist[node] + 1
                    queue.append(nxt)
        return dist

    def relevance(self, workload: str) -> float:
        """How plausibly a workload's fault reaches the alert: itself, downstream, or unrelated."""
        if self.alert_workload is None or workload == self.alert_workload:
            return 1.0
        hops = self.hops_from_alert()
        if workload in hops:
            return 0.97 ** hops[workload]
        if not self.edge_series:
            return 0.75
        callers = {a for (a, b) in self.edge_series if b == self.alert_workload}
        return 0.7 if workload in callers else 0.6


def alert_state(
    series: list[tuple[dict[str, str], np.ndarray]],
    grid: np.ndarray,
    focus: dict[str, str],
    workload: str | None,
) -> tuple[bool | None, bool | None, float | None, float | None]:
    """(active at the end, fired in the window, first true, last true) of the alert's expression."""
    if not series:
        return None, None, None, None
    wanted = {v for v in focus.values() if v} | ({workload} if workload else set())
    relevant = [arr for labels, arr in series if set(labels.values()) & wanted] or [arr for _, arr in series]
    true = np.zeros(grid.size, dtype=bool)
    for arr in relevant:
        true |= np.isfinite(arr)
    if not true.any():
        return False, False, None, None
    idx = np.flatnonzero(true)
    active = bool(true[-2:].any())
    # Onset of the latest stretch of truth (gaps of a few points are scrape jitter).
    start = idx[-1]
    for i in range(len(idx) - 1, 0, -1):
        if idx[i] - idx[i - 1] > 4:
            break
        start = idx[i - 1]
    return active, True, float(grid[start]), float(grid[idx[-1]])


def build_context(
    data: Fetched,
    signals: dict[str, WorkloadSignals],
    at: float,
    baseline_end: float,
    alert_labels: dict[str, str],
    alert_workload: str | None,
    alert_series: list[tuple[dict[str, str], np.ndarray]],
    changes: list[WorkloadChange],
) -> Context:
    ctx = Context(
        signals=signals,
        grid=data.grid,
        at=at,
        baseline_end=baseline_end,
        namespace=data.namespace,
        alert_workload=alert_workload,
        changes=changes,
        queries=dict(data.queries),
        alert_expr=data.alert_expr,
    )
    focus = {k: v for k, v in alert_labels.items() if k not in ("alertname", "severity", "namespace", "team")}
    ctx.alert_active, ctx.alert_fired, ctx.alert_onset, ctx.alert_last_true = alert_state(
        alert_series, data.grid, focus, alert_workload
    )
    for edge, values in data.client.items():
        ctx.edge_series[edge] = values
        rps, err = values.get("rps"), values.get("err")
        if rps is None:
            continue
        err = np.zeros_like(rps) if err is None else np.where(np.isfinite(rps) & ~np.isfinite(err), 0.0, err)
        with np.errstate(all="ignore"):
            ratio = err / rps
        ratio[~np.isfinite(ratio)] = np.nan
        values["err_ratio"] = ratio
        ctx.edges[edge] = detect_shift(data.grid, ratio, baseline_end, **RULES["err_ratio"])  # type: ignore[arg-type]
    rps_all = [s.series["rps"] for s in signals.values() if s.has("rps")]
    if rps_all:
        ctx.namespace_rps = np.nansum(np.vstack(rps_all), axis=0)
    return ctx
