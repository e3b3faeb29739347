"""Rightsizing: requests and limits from a workload's usage history, as one minimal proposal.

The judgement is ``bot.foresight.rightsize``; this module fetches the history from Prometheus,
reads the current values and any autoscaler from the repository, and plans the edits.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.adapters.manifests.editor import unified_diff
from bot.adapters.manifests.layout import dig
from bot.adapters.manifests.workspace import ManifestRepo, Workload
from bot.domain.alert import now_utc
from bot.domain.proposal import Action, Proposal
from bot.foresight import rightsize as rs
from bot.ports.metrics import MetricsSource
from bot.ports.promql import Matcher
from bot.services.capacity import Key, MetricWindow, container_rows, dur, lookup, sources
from bot.settings import Settings


class Rightsizer:
    def __init__(self, metrics: MetricsSource, repo_root: Path | str, settings: Settings) -> None:
        self.metrics, self.repo_root, self.settings = metrics, Path(repo_root), settings

    def recommend(
        self, workload: str, at: datetime | None = None, namespace: str | None = None
    ) -> rs.Recommendation:
        at = at or now_utc()
        s = self.settings
        repo = ManifestRepo(self.repo_root)
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
        mem_q = f"max by (namespace, pod, container) (max_over_time({working_set}[{dur(fetch.step)}]))"
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
            rec.proposal = _resources_proposal(self.repo_root, w, container, rec)
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

        w = fetch.window
        oom = fetch.sel("kube_pod_container_status_last_terminated_reason", Matcher("reason", "OOMKilled"))
        restarts = fetch.sel("kube_pod_container_status_restarts_total")
        limits = fetch.sel("kube_pod_container_resource_limits", Matcher("resource", "memory"))
        grouped = "max by (namespace, pod, container) "
        ooms = total(f"{grouped}(max_over_time({oom}[{w}]))", lambda v: float(sum(x > 0 for x in v)))
        restarted = total(f"{grouped}(increase({restarts}[{w}]))", lambda v: float(sum(v)))
        seen = total(f"{grouped}(max_over_time({limits}[{w}]))", max)
        return {
            "oom_pods": int(ooms or 0),
            "restarts": round(restarted or 0),
            "memory_limit_seen": int(seen) if seen else None,
        }


def _autoscaler(repo: ManifestRepo, w: Workload) -> rs.Autoscaler | None:
    if not w.hpa_file or not w.hpa_name or w.hpa_file not in repo.parsed:
        return None
    for _i, doc in repo.parsed[w.hpa_file].documents():
        if isinstance(doc, dict) and (doc.get("metadata") or {}).get("name") == w.hpa_name:
            spec = doc.get("spec") or {}
            target = spec.get("targetCPUUtilizationPercentage")
            for metric in spec.get("metrics") or []:
                if dig(metric, ["resource", "name"]) == "cpu":
                    target = dig(metric, ["resource", "target", "averageUtilization"]) or target
            return rs.Autoscaler(w.hpa_name, float(target) / 100 if target else None)
    return None


def _resources_proposal(root: Path, w: Workload, container: str | None, rec: rs.Recommendation) -> Proposal:
    """All of a recommendation's fields as one proposal, each edited where it takes effect."""
    originals: dict[str, str] = {}
    changes, notes = [], []
    with tempfile.TemporaryDirectory(prefix="tugboat-rightsize-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"))
        for change in rec.changes:
            repo = ManifestRepo(copy)
            planned = repo.plan(w.name, change.field, change.value, container)
            for rel in planned.new_texts:
                originals.setdefault(rel, repo.parsed[rel].text)
            repo.apply(planned)
            changes += planned.changes
            notes += [n for n in planned.notes if n not in notes]
        diff = "".join(
            unified_diff(rel, old, (copy / rel).read_bytes().decode("utf-8"))
            for rel, old in sorted(originals.items())
        )
    title = f"Rightsize {w.name}: " + ", ".join(rs.LABELS[c.field] for c in rec.changes)
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
    repo_dir: Path | None = None,
) -> rs.Recommendation:
    """``/tugboat rightsize WORKLOAD``: the recommendation, with its proposal when it changes anything."""
    metrics, repo = sources(metrics, repo_dir)
    return Rightsizer(metrics, repo, settings).recommend(workload, at, namespace)
