"""Proactive capacity and rightsizing: forecast demand, propose changes before they are needed.

``CapacityPlanner.check`` forecasts every workload's CPU demand and request rate from Prometheus
history and drafts a scale proposal for each one that will run short within the horizon;
``run_capacity_job`` is the scheduled form that submits and opens those proposals for approval.
``Rightsizer.recommend`` turns a workload's usage history into requests and limits. Judgements
live in ``bot.foresight.capacity`` and ``bot.foresight.rightsize``; this module fetches and plans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.domain.alert import now_utc
from bot.domain.errors import InvalidInput, TugboatError
from bot.domain.manifest import Workload
from bot.domain.proposal import STATE_TEXT, Action, Proposal, ProposalState
from bot.foresight import capacity as cap
from bot.ports.metrics import MetricsSource
from bot.ports.workspace import CurrentWorkspace, ManifestWorkspace
from bot.services.capacity_metrics import Key, MetricWindow, container_rows, request_rate, summed
from bot.services.proposals import ProposalWorkflow
from bot.settings import Settings

REQUESTED_BY = "tugboat:capacity"
STALE_S = 3600.0  # a workload without samples for this long before ``at`` is not forecast


def lookup(repo: ManifestWorkspace, name: str, namespace: str | None) -> Workload | None:
    hits = [
        w for w in repo.workloads() if w.name == name and (not namespace or w.namespace in (None, namespace))
    ]
    if not hits:
        return None
    return repo.find(name) if len(hits) > 1 else hits[0]


def _fill(values: np.ndarray) -> np.ndarray:
    """Interior and trailing gaps filled from their neighbours, so the forecast keeps its rhythm."""
    idx = np.arange(len(values))
    ok = np.isfinite(values)
    return np.interp(idx, idx[ok], values[ok])


class CapacityPlanner:
    def __init__(self, metrics: MetricsSource, workspace: ManifestWorkspace, settings: Settings) -> None:
        """``workspace``: the manifests capacities are read from and proposals planned on."""
        self.metrics, self.workspace, self.settings = metrics, workspace, settings

    def check(
        self,
        at: datetime | None = None,
        namespace: str | None = None,
        only: set[str] | None = None,
        horizon_hours: float | None = None,
    ) -> list[cap.CapacityFinding]:
        """One finding per workload: short within the horizon (with a draft proposal) or why not."""
        at = at or now_utc()
        s = self.settings
        fetch = MetricWindow(self.metrics, at, s.capacity_lookback_hours, namespace)
        names = set(self.metrics.metric_names(fetch.start, at))
        keys = [k for k in fetch.workloads() if only is None or k[1] in only]
        if only and not keys:
            raise InvalidInput(f"Prometheus has no kube-state-metrics replicas for {', '.join(sorted(only))}")
        cpu, rps = fetch.cpu(), fetch.request_rates(names)
        repo = self.workspace
        horizon = math.ceil((horizon_hours or s.capacity_horizon_hours) * 3600 / fetch.step)
        findings: list[cap.CapacityFinding] = []
        ready: dict[Key, tuple[Workload, cap.Capacity, cap.Demand]] = {}
        for key in keys:
            ns, name = key
            finding = cap.CapacityFinding(name, ns or None, at, short=False, reason="")
            findings.append(finding)
            w = lookup(repo, name, ns)
            if w is None:
                finding.reason = "not defined in the GitOps repository: nothing to propose"
                continue
            try:
                capacity, container = self._capacity(repo, w)
            except TugboatError as exc:  # one odd manifest must not hide the other workloads
                finding.reason = f"cannot read its capacity from the repository: {exc}"
                continue
            rows = container_rows(cpu, key, container)
            seen = np.isfinite(rows).any(axis=0) if rows is not None else np.zeros(0, bool)
            if capacity is None or rows is None or seen.sum() < cap.MIN_HISTORY_ROWS:
                finding.reason = (
                    "no CPU limit or request in the manifests: capacity unknown"
                    if capacity is None
                    else (f"only {int(seen.sum())} samples of CPU usage; need {cap.MIN_HISTORY_ROWS}")
                )
                continue
            first, last = int(np.argmax(seen)), len(seen) - 1 - int(np.argmax(seen[::-1]))
            if fetch.grid[-1] - fetch.grid[last] > STALE_S:
                finding.reason = (
                    f"no CPU usage since {cap.when(fetch.grid[last]):%Y-%m-%d %H:%M} UTC: not forecast"
                )
                continue
            cores = summed(rows)[first:]
            demand = cap.Demand(fetch.grid[first:], _fill(cores))
            rate = request_rate(rps, key)
            if rate is not None and np.isfinite(rate[0][first:]).sum() >= cap.MIN_HISTORY_ROWS:
                demand.rps, demand.rps_metric = _fill(rate[0][first:]), rate[1]
            finding.capacity = capacity
            ready[key] = (w, capacity, demand)
        series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for (ns, name), (_w, _c, d) in ready.items():
            series[f"{ns}/{name}/cpu"] = (d.cpu, d.timestamps)
            if d.rps is not None:
                series[f"{ns}/{name}/rps"] = (d.rps, d.timestamps)
        forecasts = {
            name: cap.forecast_load(values, stamps, horizon, s.capacity_level)
            for name, (values, stamps) in series.items()
        }
        limit = s.policy.max_replicas
        for finding in findings:
            key = (finding.namespace or "", finding.workload)
            if key not in ready:
                continue
            w, capacity, demand = ready[key]
            projection = cap.project(
                demand,
                forecasts[f"{key[0]}/{key[1]}/cpu"],
                forecasts.get(f"{key[0]}/{key[1]}/rps"),
                fetch.step,
            )
            bound = min(limit, max(int(capacity.replicas * s.policy.max_replica_factor), capacity.replicas))
            judged = cap.judge(finding.workload, finding.namespace, at, demand, projection, capacity, bound)
            source = f"{demand.rps_metric} and CPU usage" if projection.rps_upper is not None else None
            judged.notes.append(f"demand from {source or 'CPU usage (no request metric covers it)'}")
            judged.graph = cap.graph(judged, demand, projection)
            if judged.short and judged.replicas:
                try:
                    judged.proposal = self._scale(repo, w, judged)
                except TugboatError as exc:
                    judged.notes.append(f"no proposal: {exc}")
            findings[findings.index(finding)] = judged
        return findings

    def _capacity(self, repo: ManifestWorkspace, w: Workload) -> tuple[cap.Capacity | None, str | None]:
        replicas = repo.effective(w, "replicas")
        limit = repo.effective(w, "cpu")
        source, per_pod = "limit", limit.value
        if per_pod is None:
            source, per_pod = "request", repo.effective(w, "cpu_request").value
        if not per_pod:
            return None, limit.container
        hpa = w.hpa_name if replicas.field == "hpa.maxReplicas" else None
        count = int(replicas.value) if replicas.value is not None else 1
        return cap.Capacity(
            count, float(per_pod), self.settings.capacity_target_utilisation, hpa, source
        ), limit.container

    def _scale(self, repo: ManifestWorkspace, w: Workload, finding: cap.CapacityFinding) -> Proposal:
        assert finding.replicas and finding.breach_at and finding.capacity
        planned = repo.plan(w, "replicas", finding.replicas)
        hpa = finding.capacity.hpa
        what = f"scale {w.name} to {finding.replicas} replicas"
        if hpa:
            what = f"raise {hpa} maxReplicas" + (f" (of {w.name})" if hpa != w.name else "")
            what += f" to {finding.replicas}"
        title = f"Capacity: {what} before the predicted breach at {finding.breach_at:%Y-%m-%d %H:%M} UTC"
        rationale = "\n".join([finding.reason, *finding.notes, *planned.notes])
        return Proposal(
            action=Action.SCALE,
            service=w.name,
            namespace=finding.namespace or w.namespace,
            changes=planned.changes,
            diff=planned.diff,
            title=title,
            rationale=rationale,
        )


# -- the scheduled job and the one-workload forecast ---------------------------------------------------


@dataclass
class CapacityRun:
    findings: list[cap.CapacityFinding]
    opened: list[Proposal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


Notify = Callable[[cap.CapacityFinding, Proposal], None]


def submit_findings(
    findings: list[cap.CapacityFinding], workflow: ProposalWorkflow, notify: Notify | None = None
) -> CapacityRun:
    """Submit and open each finding's proposal (policy checks included), unless one is already open."""
    run = CapacityRun(findings)
    pending = workflow.store.list_proposals([ProposalState.DRAFT, ProposalState.OPEN])
    for finding in findings:
        if finding.proposal is None:
            continue
        same = [
            p
            for p in pending
            if p.action is Action.SCALE
            and p.service == finding.workload
            and p.namespace == finding.proposal.namespace
        ]
        if same:
            already = STATE_TEXT[same[0].state]
            run.skipped.append(f"{finding.workload}: proposal {same[0].id} is already {already}")
            continue
        try:  # the policy scan may refuse one proposal; the others still go out
            submitted = workflow.submit(finding.proposal, requested_by=REQUESTED_BY)
            finding.proposal = workflow.open(submitted.id, actor=REQUESTED_BY)
        except TugboatError as exc:
            run.skipped.append(f"{finding.workload}: not opened: {exc}")
            continue
        run.opened.append(finding.proposal)
        if notify is not None:
            notify(finding, finding.proposal)
    return run


def sources(
    metrics: MetricsSource | None, workspace: CurrentWorkspace | None
) -> tuple[MetricsSource, ManifestWorkspace]:
    """The Prometheus and the manifests (opened now) the composition root handed over, or a
    clear error."""
    if metrics is None:
        raise InvalidInput("no Prometheus configured: set TUGBOAT_PROMETHEUS_URL or pass --prometheus-url")
    if workspace is None:
        raise InvalidInput("no GitOps repository: set TUGBOAT_REPO (or pass --repo)")
    return metrics, workspace()


def run_capacity_job(
    settings: Settings,
    at: datetime | None = None,
    *,
    namespace: str | None = None,
    workspace: CurrentWorkspace | None = None,
    metrics: MetricsSource | None = None,
    workflow: ProposalWorkflow,
    notify: Notify | None = None,
) -> CapacityRun:
    """The scheduled check: forecast every workload, open a proposal for each one running short.

    ``namespace`` limits it to one namespace; ``workspace`` opens the manifests to read (the
    composition root fetches the repository first); proposals are branches or PRs on it
    through the configured change host."""
    metrics, repo = sources(metrics, workspace)
    findings = CapacityPlanner(metrics, repo, settings).check(at or now_utc(), namespace)
    return submit_findings(findings, workflow, notify)


def forecast(
    workload: str,
    settings: Settings,
    *,
    at: datetime | None = None,
    namespace: str | None = None,
    metrics: MetricsSource | None = None,
    workspace: CurrentWorkspace | None = None,
) -> list[cap.CapacityFinding]:
    """``/tugboat forecast WORKLOAD``: the capacity judgement of the workload (one finding per
    namespace that runs it), each with the proposal it implies; empty when nothing is known."""
    metrics, repo = sources(metrics, workspace)
    return CapacityPlanner(metrics, repo, settings).check(at, namespace, only={workload})
