"""Root-cause hypotheses of the five kinds, for every workload in the namespace.

Each hypothesis is scored from first principles: a saturated workload whose traffic rose is a
surge, one whose traffic held steady is under-provisioned; OOM kills point at the memory limit;
errors that start right after a change to the workload point at that change; an alert whose
condition has already cleared is transient. Symptoms that a downstream dependency explains (the
caller's client errors towards a failing callee) are discounted in favour of the callee.
"""

from __future__ import annotations

import numpy as np

from bot.analysis.context import Context
from bot.analysis.cpu import cpu_causes
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.memory import memory_causes
from bot.analysis.onset import elevated_share
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import (
    CHANGE_SYMPTOMS,
    COMMIT_AFTER_S,
    COMMIT_BEFORE_S,
    SYMPTOMS,
    Candidate,
    clamp,
    is_symptomatic,
    ongoing_symptom,
    onset_of,
    saturation,
    symptom,
    traffic_ratio,
    unavailable_since,
)
from bot.domain.report import CauseKind
from bot.ports.gitrepo import WorkloadChange

__all__ = ["Candidate", "hypotheses", "is_symptomatic", "onset_of", "traffic_ratio"]

GC_SHARE = 0.85  # CPU of a workload whose memory explains the incident is its collector at work
SURGE_OVER_CHANGE = 0.6  # as for saturation under a surge in _deploy_causes
EXPLAINED_LOAD = 0.5  # CPU that follows traffic, on a workload whose callee explains its symptoms


def _explained_directly(sig: WorkloadSignals, ctx: Context) -> list[str]:
    """Callees whose failures explain this workload's errors or latency."""
    out = []
    for callee in ctx.callees.get(sig.name, []):
        callee_sig = ctx.signals.get(callee)
        edge = ctx.edge_shift(sig.name, callee)
        if callee_sig is None or not (callee_sig.has("rps") or callee_sig.has("cpu")):
            if edge.elevated:  # a dependency we cannot see into: trust the caller's view of it
                out.append(callee)
            continue
        # A healthy callee does not explain the caller's client errors: the caller broke its calls.
        if not is_symptomatic(callee_sig, ctx.baseline_end):
            continue
        if ctx.alert_active and not ongoing_symptom(callee_sig, ctx.at):
            continue  # a callee that recovered cannot explain a caller that still fails
        if edge.elevated or (callee_sig.shift("p99").elevated and not _only_errors(sig)):
            out.append(callee)
    return out


def _only_errors(sig: WorkloadSignals) -> bool:
    """Errors without latency: a slow callee does not explain them, failing calls to it would."""
    return symptom(sig, "err_ratio") and not symptom(sig, "p99")


def explained_by(sig: WorkloadSignals, ctx: Context, depth: int = 3) -> list[str]:
    """Callees whose failures explain this workload's errors or latency, directly or through a
    callee that a failing workload further down explains (faults travel up the call graph)."""
    out = _explained_directly(sig, ctx)
    if out or depth <= 1:
        return out
    for callee in ctx.callees.get(sig.name, []):
        callee_sig = ctx.signals.get(callee)  # it may pass the errors on under our own thresholds
        if callee_sig is not None and explained_by(callee_sig, ctx, depth - 1):
            out.append(callee)
    return out


def hypotheses(ctx: Context) -> list[Candidate]:
    ev = EvidenceBuilder(ctx)
    cands: list[Candidate] = []
    for sig in ctx.signals.values():
        memory = memory_causes(sig, ctx, ev)
        cpu = cpu_causes(sig, ctx, ev)
        if any(m.score >= 0.6 for m in memory):
            for cand in cpu:
                cand.score *= GC_SHARE
        if any(c.facts.get("load_only") for c in cpu) and explained_by(sig, ctx):
            for cand in cpu:
                cand.score *= EXPLAINED_LOAD  # it is slow because what it calls is
        deploy = _deploy_causes(sig, ctx, ev)
        if saturation(sig) <= 0.3 and any(c.kind is CauseKind.TRAFFIC_SURGE and c.score >= 0.6 for c in cpu):
            for cand in deploy:  # no limit binds, but a surge it cannot keep up with explains it better
                cand.score *= SURGE_OVER_CHANGE
        own = cpu + memory + deploy
        cands += own or _origin(sig, ctx, ev)
    cands += _transient(ctx, ev, cands)
    for cand in cands:
        cand.score *= ctx.relevance(cand.workload)
        if cand.kind is not CauseKind.TRANSIENT and cleared(ctx):
            cand.score *= 0.5
    return cands


def cleared(ctx: Context) -> bool:
    """The alert's condition is over, and so are the alerting workload's own errors and latency
    (an alert that flaps under its threshold while they stay up has not cleared)."""
    if not ctx.alert_cleared:
        return False
    sig = ctx.signals.get(ctx.alert_workload or "")
    return sig is None or not any(symptom(sig, k) and sig.shift(k).ongoing for k in ("err_ratio", "p99"))


def symptom_onsets(sig: WorkloadSignals, since: float) -> list[float]:
    """When each of the workload's symptoms began (after the baseline)."""
    onsets = [sig.shift(k).onset for k in SYMPTOMS if symptom(sig, k)]
    onsets += [sig.crash_since, *sig.oom_times[:1], unavailable_since(sig)]
    onsets += [t for t in sig.restart_times if t > since][:1]
    return sorted(o for o in onsets if o is not None)


def _in_reach(onset: float | None, t: float) -> bool:
    return onset is not None and t - COMMIT_AFTER_S <= onset <= t + COMMIT_BEFORE_S


def change_onset(sig: WorkloadSignals, ctx: Context, t: float) -> float | None:
    """The first symptom a change at ``t`` can explain: errors, latency, memory, crashes or restarts
    that begin after it and were not already there in the minutes before it."""
    onsets = []
    for key in CHANGE_SYMPTOMS:
        shift = sig.shift(key)
        if not symptom(sig, key):
            continue
        before = elevated_share(ctx.grid, sig.series[key], shift.threshold, t - 15 * 60, t - COMMIT_AFTER_S)
        if before < 0.5:
            onsets += [o for o in shift.starts if _in_reach(o, t)]
    events = [
        sig.crash_since,
        unavailable_since(sig),
        *[o for o in sig.oom_times if o > ctx.baseline_end][:1],
    ]
    events += [r for r in sig.restart_times if r > ctx.baseline_end][:1]
    onsets += [e for e in events if e is not None and _in_reach(e, t)]
    return min(onsets, default=None)


def change_symptom_ongoing(sig: WorkloadSignals, at: float, recent_s: float = 15 * 60) -> bool:
    """Still failing in a way a change explains (saturation alone is a capacity matter)."""
    if any(symptom(sig, k) and sig.shift(k).ongoing for k in CHANGE_SYMPTOMS) or sig.crashloop:
        return True
    if unavailable_since(sig) is not None:
        return True
    return any(at - t <= recent_s for t in [*sig.restart_times, *sig.oom_times])


def _deploy_causes(sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
    # The alert's own condition is a symptom of the workload it fires on, even under our thresholds.
    alerted = ctx.alert_onset_fits_change if sig.name == ctx.alert_workload else None
    if not is_symptomatic(sig, ctx.baseline_end) and alerted is None:
        return []
    onsets = sorted([*symptom_onsets(sig, ctx.baseline_end), *([alerted] if alerted is not None else [])])
    if not onsets:
        return []
    # A change explains the symptoms that begin after it; errors, crashes and memory fit a change,
    # saturation alone fits one only weakly (a capacity limit explains it as well).
    matched: list[tuple[float, WorkloadChange, float, bool]] = []
    for c in ctx.changes_for(sig.name):
        t = c.at.timestamp()
        fit = change_onset(sig, ctx, t)
        if fit is None and alerted is not None and _in_reach(alerted, t):
            fit = alerted
        if fit is not None:
            matched.append((fit - t, c, fit, True))
            continue
        sat = [sig.shift(k).onset for k in ("thr", "cpu_util") if symptom(sig, k)]
        reach = [o for o in sat if o is not None and _in_reach(o, t)]
        if reach:
            matched.append((min(reach) - t, c, min(reach), False))
    change, onset, fits = None, onsets[0], False
    if matched:
        # Fitting symptoms first; then the change closest before its symptoms; among equals, the latest.
        lag, change, onset, fits = min(
            matched, key=lambda m: (not m[3], max(m[0], 0.0), -m[1].at.timestamp())
        )
    rollout = next(
        (r for r in sig.rollouts if onset - COMMIT_BEFORE_S <= r.at <= onset + COMMIT_AFTER_S), None
    )
    if change is None and rollout is None:
        return []
    if change is not None:
        lag = onset - change.at.timestamp()
        timing = 1.0 if lag <= 20 * 60 else clamp(1.0 - (lag - 20 * 60) / (COMMIT_BEFORE_S - 20 * 60), 0.2)
        kinds = change.kinds
        relevance = 1.0 if kinds & {"image", "env", "config"} else 0.7
        score = (0.5 + 0.3 * timing) * relevance
        if rollout is not None and change.at.timestamp() - 120 <= rollout.at <= onset + COMMIT_AFTER_S:
            score += 0.1
    else:
        score = 0.35  # a rollout without a commit we can revert
        fits = any(symptom(sig, k) for k in CHANGE_SYMPTOMS) or sig.crashloop or sig.oom_restarts > 0
        fits = fits or unavailable_since(sig) is not None
        fits = fits or any(t > ctx.baseline_end for t in sig.restart_times)
    if not fits:
        score *= 0.5  # only saturation: capacity explains that better than a change
    if explained_by(sig, ctx):
        score *= 0.35
    if ctx.alert_active and not (change_symptom_ongoing(sig, ctx.at) or alerted is not None):
        score *= 0.4  # the symptoms it explains are over while the alert still fires
    if saturation(sig) > 0.3:
        ratio = traffic_ratio(sig, ctx, onset)
        if np.isfinite(ratio) and ratio > 1.4:
            score *= 0.6  # saturation under a surge explains the symptoms better than the change
    evidence = ev.deploy(sig, onset, change, rollout)
    return [Candidate(CauseKind.BAD_DEPLOY, sig.name, score, onset, change, evidence, {})]


ORIGIN = 0.28  # under the weak bar: the fallback's CPU reading still joins it


def _origin(sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
    """Errors or latency that begin in this workload, still up, that nothing it calls explains and
    no resource, limit or commit accounts for: a fault inside it (a release or setting outside the
    repository, a dependency we cannot see). The weakest cause, but where the failure starts."""
    ongoing = [k for k in ("err_ratio", "p99") if symptom(sig, k) and sig.shift(k).ongoing]
    if not ongoing or explained_by(sig, ctx):
        return []
    onset = min(o for k in ongoing if (o := sig.shift(k).onset) is not None)
    strength = max(clamp(sig.shift(k).elevated_fraction) for k in ongoing)
    evidence = ev.symptoms(sig)
    return [
        Candidate(CauseKind.BAD_DEPLOY, sig.name, ORIGIN * (0.6 + 0.4 * strength), onset, None, evidence, {})
    ]


def _transient(ctx: Context, ev: EvidenceBuilder, cands: list[Candidate]) -> list[Candidate]:
    target = ctx.alert_workload or (max(cands, key=lambda c: c.score).workload if cands else None)
    if target is None:
        return []
    sig = ctx.signals.get(target)
    ongoing = [
        c
        for c in cands
        if c.kind in (CauseKind.CPU_LIMIT, CauseKind.TRAFFIC_SURGE, CauseKind.MEMORY_LIMIT)
        and _still_ongoing(ctx.signals.get(c.workload), ctx.at)
    ]
    if ctx.alert_cleared:
        score = (0.9 if not ongoing else 0.45) * (1.0 if cleared(ctx) else 0.5)
    elif ctx.alert_active is None and sig is not None and is_symptomatic(sig):
        over = [k for k in SYMPTOMS if symptom(sig, k) and sig.shift(k).cleared]
        still = [k for k in SYMPTOMS if symptom(sig, k) and sig.shift(k).ongoing]
        if not over or still or ongoing:
            return []
        score = 0.7
    else:
        return []
    source = episode_source(ctx, target)
    return [Candidate(CauseKind.TRANSIENT, source, score, ctx.alert_onset, None, ev.transient(source), {})]


def episode_source(ctx: Context, workload: str, near_s: float = 5 * 60) -> str:
    """Down the call graph, the callee whose own episode of the alert's symptom (errors or latency,
    whichever began with the alert) began with the caller's: errors and latency travel up to
    callers, so that callee is where the episode happened."""
    sig = ctx.signals.get(workload)
    if sig is None:
        return workload
    ref = ctx.alert_onset
    began = {k: o for k in ("err_ratio", "p99") if (o := onset_of(sig, (k,))) is not None}
    if not began:
        return workload
    key = min(began, key=lambda k: abs(began[k] - ref) if ref is not None else began[k])
    seen, start = {workload}, began[key]
    while True:
        near = []
        for callee in ctx.callees.get(workload, []):
            callee_sig = ctx.signals.get(callee)
            onset = onset_of(callee_sig, (key,)) if callee_sig is not None and callee not in seen else None
            if onset is not None and abs(onset - start) <= near_s:
                near.append((abs(onset - start), callee, onset))
        if not near:
            return workload
        _, workload, start = min(near)
        seen.add(workload)


def _still_ongoing(sig: WorkloadSignals | None, at: float) -> bool:
    if sig is None:
        return False
    recent_oom = bool(sig.oom_times) and at - sig.oom_times[-1] <= 20 * 60
    return recent_oom or any(sig.shift(k).ongoing for k in ("thr", "cpu_util", "mem_util"))
