"""What every kind of cause reads: a workload's symptoms, its saturation and traffic, and the
candidate a hypothesis produces."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from bot.analysis.context import Context
from bot.analysis.signals import WorkloadSignals
from bot.domain.report import CauseKind, Evidence
from bot.ports.gitrepo import WorkloadChange

SYMPTOMS = ("err_ratio", "p99", "thr", "cpu_util", "mem_util")
CHANGE_SYMPTOMS = ("err_ratio", "p99", "mem_util")  # what a broken release shows, unlike a tight limit
# Saturation signals rise with healthy load too; they are symptoms only near their limit.
SYMPTOM_LEVEL = {"thr": 0.2, "cpu_util": 0.8, "mem_util": 0.8}
COMMIT_BEFORE_S = 90 * 60  # a change this long before the onset may still be the cause
COMMIT_AFTER_S = 3 * 60  # clocks and rate windows blur the order by a few minutes


@dataclass
class Candidate:
    kind: CauseKind
    workload: str
    score: float
    onset: float | None = None
    change: WorkloadChange | None = None
    evidence: list[Evidence] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)  # numbers the remediation is sized from


def clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def onset_of(
    sig: WorkloadSignals, keys: Iterable[str] = SYMPTOMS, since: float | None = None
) -> float | None:
    onsets = [sig.shift(k).onset for k in keys if symptom(sig, k)]
    onsets += sig.oom_times[:1]
    if keys == SYMPTOMS:
        onsets += [sig.crash_since]
        onsets += [t for t in sig.restart_times if since is None or t > since][:1]
    values = [o for o in onsets if o is not None]
    return min(values) if values else None


def unavailable_since(sig: WorkloadSignals) -> float | None:
    """When replicas went missing, if they still are (a rolling update's brief dip is no symptom)."""
    short = sig.shift("unavailable")
    return short.onset if short.elevated and short.ongoing else None


def is_symptomatic(sig: WorkloadSignals, since: float | None = None) -> bool:
    restarted = any(since is None or t > since for t in sig.restart_times)
    failing = sig.oom_restarts > 0 or sig.crashloop or restarted or unavailable_since(sig) is not None
    return any(symptom(sig, k) for k in SYMPTOMS) or failing


def ongoing_symptom(sig: WorkloadSignals, at: float, recent_s: float = 15 * 60) -> bool:
    """Still failing at ``at``: a symptom that has not cleared, or restarts in the last minutes."""
    if any(symptom(sig, k) and sig.shift(k).ongoing for k in SYMPTOMS) or sig.crashloop:
        return True
    return any(at - t <= recent_s for t in [*sig.restart_times, *sig.oom_times])


def symptom(sig: WorkloadSignals, key: str) -> bool:
    shift = sig.shift(key)
    return shift.elevated and shift.peak >= SYMPTOM_LEVEL.get(key, 0.0)


def saturation(sig: WorkloadSignals) -> float:
    """0..1: how hard the workload runs into its CPU limit (0 when it does not)."""
    thr, util = sig.shift("thr"), sig.shift("cpu_util")
    score = 0.0
    if thr.elevated:
        score = max(score, clamp((thr.peak - 0.1) / 0.5))
    if util.elevated and util.peak >= 0.8:
        score = max(score, clamp((util.peak - 0.7) / 0.3))
    return score


def traffic(sig: WorkloadSignals, ctx: Context) -> np.ndarray | None:
    """The workload's request rate, or the namespace's where it has none."""
    rps = sig.series.get("rps")
    return rps if rps is not None and np.isfinite(rps).any() else ctx.namespace_rps


def traffic_ratio(sig: WorkloadSignals, ctx: Context, since: float | None) -> float:
    """Request rate since the onset over the baseline rate (namespace traffic as a fallback)."""
    rps = traffic(sig, ctx)
    if rps is None:
        return float("nan")
    grid = ctx.grid
    base = rps[(grid <= ctx.baseline_end) & np.isfinite(rps)]
    after_from = since if since is not None else ctx.at - 15 * 60
    recent = rps[(grid >= after_from) & np.isfinite(rps)]
    if base.size == 0 or recent.size == 0:
        return float("nan")
    baseline = float(np.median(base))
    return float(np.percentile(recent, 75)) / baseline if baseline > 0 else float("nan")


def stale(ctx: Context, times: list[float]) -> bool:
    """Every event is in the baseline, and minutes before the alert began."""
    if not times:
        return False
    began = ctx.alert_onset if ctx.alert_onset is not None else ctx.baseline_end
    return max(times) < min(ctx.baseline_end, began - 10 * 60)


def recent_change(ctx: Context, workload: str, onset: float, before_s: float) -> bool:
    return any(
        onset - before_s <= c.at.timestamp() <= onset + COMMIT_AFTER_S for c in ctx.changes_for(workload)
    )


def incident_start(ctx: Context) -> float:
    """When the incident began: the alert's condition, else the alerting workload's first symptom,
    else the end of the baseline."""
    if ctx.alert_onset is not None:
        return ctx.alert_onset
    sig = ctx.signals.get(ctx.alert_workload or "")
    began = onset_of(sig, since=ctx.baseline_end) if sig is not None else None
    return began if began is not None else ctx.baseline_end


def hurting(sig: WorkloadSignals, ctx: Context) -> bool:
    """Its own errors or latency, or its callers' errors towards it, are up and still are."""
    shifts = [sig.shift("err_ratio"), sig.shift("p99"), *(ctx.edge_shift(a, sig.name) for a in ctx.signals)]
    return any(s.elevated and s.ongoing for s in shifts)


def ended_before(sig: WorkloadSignals, ctx: Context, keys: Iterable[str], before_s: float = 20 * 60) -> bool:
    """The signals' episode was over, or had fallen back, by the time the incident began: a
    saturation that ended cannot cause what began after it."""
    start, grid = incident_start(ctx), ctx.grid
    elevated = [k for k in keys if sig.shift(k).elevated and k in sig.series]
    for key in elevated:
        values = sig.series[key]
        during = values[(grid >= start) & np.isfinite(values)]
        earlier = values[(grid >= start - before_s) & (grid < start) & np.isfinite(values)]
        fell = bool(during.size and earlier.size and np.median(during) < 0.6 * np.median(earlier))
        if sig.shift(key).ongoing and not fell:
            return False
    return bool(elevated)
