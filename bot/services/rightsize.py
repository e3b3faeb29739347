"""Rightsizing: requests and limits from a workload's usage history, as one minimal proposal.

The judgement is ``bot.foresight.rightsize``; this module fetches the history from Prometheus,
reads the current values and any autoscaler from the repository, and plans the edits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from bot.domain.alert import now_utc
from bot.domain.manifest import Workload, dig
from bot.domain.proposal import Action, Proposal, field_words
from bot.foresight import rightsize as rs
from bot.ports.metrics import MetricsSource
from bot.ports.promql import Matcher, RangeFunction, aggregate, over_range
from bot.ports.workspace import CurrentWorkspace, ManifestWorkspace
from bot.services.capacity import lookup, sources
from bot.services.capacity_metrics import PER_CONTAINER, Key, MetricWindow, container_rows
from bot.settings import Settings


class Rightsizer:
    def __init__(self, metrics: MetricsSource, workspace: ManifestWorkspace, settings: Settings) -> None:
        """``workspace``: the manifests the recommendation reads and plans on."""
        self.metrics, self.workspace, self.settings = metrics, workspace, settings

    def recommend(
        self, workload: str, at: datetime | None = None, namespace: str | None = None
    ) -> rs.Recommendation:
        at = at or now_utc()
        s = self.settings
        repo = self.workspace
        w = lookup(repo, workload, namespace) or repo.find(workload)
        eff = {f: repo.effective(w, f) for f in ("cpu_request", "cpu", "memory_request", "memory")}
        container = eff["cpu"].container
        current = rs.Current(*(eff[f].value for f in ("cpu_request", "cpu", "memory_request", "memory")))
        ns = namespace or w.namespace
        fetch = MetricWindow(self.metrics, at, s.rightsize_lookback_hours, ns)
        self.metrics.metric_names(fetch.start, at)  # fails fast, and clearly, when Prometheus is down
        fetch.workloads()
        key = (ns or "", w.name)
        working_set = fetch.sel("container_memory_working_set_bytes", Matcher("container", "", "!="))
        # the max over each step, so a short peak between two grid points is not missed
        mem_q = aggregate("max", over_range("max_over_time", working_set, fetch.step), PER_CONTAINER)
        cpu = fetch.cpu()
        cpu_rows = container_rows(cpu, key, container)
        # metrics may name containers differently from the manifest: then all of them count
        strict = any(c == container for (_, wl, c) in cpu if wl == w.name)
        mem_rows = container_rows(fetch.per_pod(mem_q), key, container)
        empty = np.full((1, len(fetch.grid)), np.nan)
        inst = self._instants(fetch, key, container if strict else None)
        usage = rs.Usage(
            fetch.grid,
            cpu_rows if cpu_rows is not None else empty,
            mem_rows if mem_rows is not None else empty,
            **inst,
        )
        rec = rs.Recommendation(w.name, ns, container, at)
        rs.recommend(
            rec,
            usage,
            current,
            percentile=s.rightsize_cpu_percentile,
            memory_buffer=s.rightsize_memory_buffer,
            min_hours=s.rightsize_min_data_hours,
            bounds=rs.Bounds(s.policy.max_cpu_cores, s.policy.max_memory_bytes),
            hpa=_autoscaler(repo, w),
        )
        if rec.changes:
            rec.proposal = _resources_proposal(repo, w, container, rec)
        return rec

    def _instants(self, fetch: MetricWindow, key: Key, container: str | None) -> dict[str, Any]:
        def total(promql: str, reduce: Callable[[list[float]], float]) -> float | None:
            vals = [
                v
                for ls, v in fetch.instant(promql)
                if fetch.own.workload_of_pod(ls.get("pod", "")) == key[1]
                and (container is None or ls.get("container") == container)
                and math.isfinite(v)
            ]
            return reduce(vals) if vals else None

        w = fetch.window_s
        oom = fetch.sel("kube_pod_container_status_last_terminated_reason", Matcher("reason", "OOMKilled"))
        restarts = fetch.sel("kube_pod_container_status_restarts_total")
        limits = fetch.sel("kube_pod_container_resource_limits", Matcher("resource", "memory"))

        def per_container(function: RangeFunction, series: str) -> str:
            return aggregate("max", over_range(function, series, w), PER_CONTAINER)

        ooms = total(per_container("max_over_time", oom), lambda v: float(sum(x > 0 for x in v)))
        restarted = total(per_container("increase", restarts), lambda v: float(sum(v)))
        seen = total(per_container("max_over_time", limits), max)
        return {
            "oom_pods": int(ooms or 0),
            "restarts": round(restarted or 0),
            "memory_limit_seen": int(seen) if seen else None,
        }


def _autoscaler(repo: ManifestWorkspace, w: Workload) -> rs.Autoscaler | None:
    doc = repo.autoscaler(w)
    if doc is None or not w.hpa_name:
        return None
    spec = doc.get("spec") or {}
    target = spec.get("targetCPUUtilizationPercentage")
    for metric in spec.get("metrics") or []:
        if dig(metric, ["resource", "name"]) == "cpu":
            target = dig(metric, ["resource", "target", "averageUtilization"]) or target
    return rs.Autoscaler(w.hpa_name, float(target) / 100 if target else None)


def _resources_proposal(
    repo: ManifestWorkspace, w: Workload, container: str | None, rec: rs.Recommendation
) -> Proposal:
    """All of a recommendation's fields as one proposal, each edited where it takes effect."""
    planned = repo.plan_all(w.name, [(c.field, c.value) for c in rec.changes], container)
    changes, notes, diff = planned.changes, planned.notes, planned.diff
    title = f"Rightsize {w.name}: " + ", ".join(field_words(c.field) for c in rec.changes)
    rationale = "\n".join([c.text() for c in rec.changes] + rec.notes + notes)
    return Proposal(
        action=Action.SET_RESOURCES,
        service=w.name,
        namespace=rec.namespace,
        changes=changes,
        diff=diff,
        title=title,
        rationale=rationale,
    )


def rightsize(
    workload: str,
    settings: Settings,
    *,
    at: datetime | None = None,
    namespace: str | None = None,
    metrics: MetricsSource | None = None,
    workspace: CurrentWorkspace | None = None,
) -> rs.Recommendation:
    """``/tugboat rightsize WORKLOAD``: the recommendation, with its proposal when it changes
    anything; ``workspace`` opens the repository's manifests as of now."""
    metrics, repo = sources(metrics, workspace)
    return Rightsizer(metrics, repo, settings).recommend(workload, at, namespace)
