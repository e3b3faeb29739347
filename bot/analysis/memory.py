"""Memory as the cause of an incident: a working set that reaches its limit (OOM kills), or grows
towards its limit, its request or its node's memory before the first kill. Growth that begins
right after a change to the workload is that change's leak, and the change is ranked above it."""

from __future__ import annotations

import numpy as np

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import Candidate, clamp, recent_change, stale
from bot.domain.report import CauseKind

GROWTH = 1.5  # a working set this many times its baseline, still growing, is a leak in progress


def _peak(sig: WorkloadSignals, key: str) -> float:
    return float(np.nanmax(sig.series[key])) if sig.has(key) else float("nan")


def growing(sig: WorkloadSignals) -> bool:
    return any(sig.shift(k).elevated and sig.shift(k).ongoing for k in ("mem", "mem_util"))


def _unbounded_pressure(sig: WorkloadSignals, peak: float) -> float:
    """0..1: how far a working set without a binding limit outgrew its request or its node."""
    base = sig.shift("mem").baseline
    if not (growing(sig) and np.isfinite(peak) and base > 0 and peak >= GROWTH * base):
        return 0.0
    pressure = 0.0
    if sig.mem_request_per_pod:
        pressure = max(pressure, clamp((peak / sig.mem_request_per_pod - 1) / 1.5))
    if sig.node_memory:
        pressure = max(pressure, clamp((peak / sig.node_memory - 0.5) / 0.4))
    return max(pressure, clamp((peak / base - GROWTH) / 3) * 0.5)


def memory_score(sig: WorkloadSignals) -> float:
    util = _peak(sig, "mem_util")
    if sig.oom_restarts > 0:
        return 0.8 + 0.1 * clamp(sig.oom_restarts / 3)
    if np.isfinite(util) and util >= 0.9 and sig.restarts > 0:
        return 0.65
    near = clamp((util - 0.75) / 0.2) if np.isfinite(util) else 0.0
    if growing(sig) and near > 0:
        return 0.5 + 0.4 * near  # still growing towards the limit: the kill is coming
    if np.isfinite(util) and util >= 0.95:
        return 0.45
    pressure = _unbounded_pressure(sig, _peak(sig, "mem"))
    return 0.4 + 0.35 * pressure if pressure > 0 else 0.0


def memory_causes(sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
    score = memory_score(sig)
    if score <= 0:
        return []
    mem = sig.shift("mem_util") if sig.shift("mem_util").elevated else sig.shift("mem")
    onset = mem.onset if mem.elevated else (sig.oom_times[0] if sig.oom_times else None)
    if not mem.elevated and stale(ctx, sig.oom_times or sig.restart_times):
        score *= 0.3  # kills long before the incident, with memory back to normal, did not cause it
    if onset is not None and recent_change(ctx, sig.name, onset, 30 * 60):
        score *= 0.75  # memory that starts climbing right after a change to the workload is a leak
    facts = ev.memory_facts(sig)
    return [Candidate(CauseKind.MEMORY_LIMIT, sig.name, score, onset, None, ev.memory(sig, onset), facts)]
