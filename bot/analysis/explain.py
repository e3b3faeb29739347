"""What explains a workload's symptoms besides its own resources: the callees it calls (faults
travel up the call graph) and the changes made to it (symptoms that begin right after one).

Shared by the cause kinds (``bot.analysis.kinds``) and the judgement across them
(``bot.analysis.hypotheses``).
"""

from __future__ import annotations

from bot.analysis.context import Context
from bot.analysis.onset import elevated_share, step_across
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import (
    CHANGE_SYMPTOMS,
    COMMIT_AFTER_S,
    COMMIT_BEFORE_S,
    SYMPTOMS,
    is_symptomatic,
    ongoing_symptom,
    onset_of,
    symptom,
    unavailable_since,
)


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
        if edge.elevated or (callee_sig.shift("p99").elevated and _slows(callee_sig, sig, ctx)):
            out.append(callee)
    return out


SLOWED_BEFORE_S = 5 * 60  # the minutes before the caller's latency rose, against which a callee's is read
SLOWED_SHARE = 0.25  # of the caller's rise in latency that the callee's own rise must reach


def _slows(callee: WorkloadSignals, caller: WorkloadSignals, ctx: Context) -> bool:
    """A slow callee, its calls not failing, explains its caller's latency and nothing else.

    Errors the caller still makes need failing calls: a slow callee explains them only through
    those (the edge). And a callee explains the caller's rise in latency only if its own latency rose with it,
    by a fair share of the caller's rise (the latency of a call is part of the caller's): one
    that was as slow in the minutes before, or slowed by a fraction of what the caller did, was not
    what slowed it."""
    if symptom(caller, "err_ratio") and caller.shift("err_ratio").ongoing:
        return False
    onset = caller.shift("p99").onset
    mine, theirs = caller.series.get("p99"), callee.series.get("p99")
    if onset is None or mine is None or theirs is None:
        return True
    rise = step_across(ctx.grid, mine, onset, SLOWED_BEFORE_S, ctx.at)
    own = step_across(ctx.grid, theirs, onset, SLOWED_BEFORE_S, ctx.at)
    if not (rise > 0.0) or own != own:  # nothing to compare: trust the symptoms
        return True
    return own >= SLOWED_SHARE * rise


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


def leads_to(sig: WorkloadSignals, ctx: Context) -> set[str]:
    """The workload and every one its symptoms lead down to: the callees that explain them, and
    theirs in turn."""
    found, todo = {sig.name}, [sig]
    while todo:
        for callee in explained_by(todo.pop(), ctx):
            callee_sig = ctx.signals.get(callee)
            if callee not in found:
                found.add(callee)
                if callee_sig is not None:
                    todo.append(callee_sig)
    return found


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


def in_reach(onset: float | None, t: float) -> bool:
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
            onsets += [o for o in shift.starts if in_reach(o, t)]
    events = [
        sig.crash_since,
        unavailable_since(sig),
        *[o for o in sig.oom_times if o > ctx.baseline_end][:1],
    ]
    events += [r for r in sig.restart_times if r > ctx.baseline_end][:1]
    onsets += [e for e in events if e is not None and in_reach(e, t)]
    return min(onsets, default=None)


def change_symptom_ongoing(sig: WorkloadSignals, at: float, recent_s: float = 15 * 60) -> bool:
    """Still failing in a way a change explains (saturation alone is a capacity matter)."""
    if any(symptom(sig, k) and sig.shift(k).ongoing for k in CHANGE_SYMPTOMS) or sig.crashloop:
        return True
    if unavailable_since(sig) is not None:
        return True
    return any(at - t <= recent_s for t in [*sig.restart_times, *sig.oom_times])


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


def still_ongoing(sig: WorkloadSignals | None, at: float) -> bool:
    if sig is None:
        return False
    recent_oom = bool(sig.oom_times) and at - sig.oom_times[-1] <= 20 * 60
    return recent_oom or any(sig.shift(k).ongoing for k in ("thr", "cpu_util", "mem_util"))
