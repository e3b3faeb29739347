"""Memory limit too low: a working set that reaches its limit (OOM kills), or grows towards its
limit, its request or its node's memory before the first kill. Growth that begins right after a
change to the workload is that change's leak, and the change is ranked above it. The
fix is a limit that covers the peak working set with headroom, at least doubling when OOM kills
show the demand is above the current limit; a working set that grows without a limit gets a
request that reserves it (a new limit would only kill the pod)."""

from __future__ import annotations

import math

import numpy as np

from bot.analysis import fmt
from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent, nothing
from bot.analysis.kinds.traffic_surge import finite
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import Candidate, clamp, recent_change, stale
from bot.domain.proposal import Action, Field_
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy

MEBIBYTE = 1024**2


class MemoryLimitSettings(KindSettings):
    growth: float = 1.5  # a working set this many times its baseline, still growing, is a leak in progress
    headroom: float = 1.5
    min_step: float = 2.0  # after OOM kills (or a peak near the limit) the limit at least doubles
    near_limit: float = 0.9  # a peak at this share of the limit counts as reaching it
    step_bytes: int = 64 * MEBIBYTE  # new values are whole steps of this size
    default_limit_bytes: int = 512 * MEBIBYTE  # assumed when neither limit nor peak is known


def _steps(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


class MemoryLimit(BaseKind[MemoryLimitSettings]):
    name = CauseKind.MEMORY_LIMIT
    label = "memory limit too low"
    phrase = "a memory limit below the working set of"
    settings_type = MemoryLimitSettings

    def candidates(self, sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
        return memory_causes(sig, ctx, ev, self.settings)

    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        f, s = top.facts, self.settings
        if not finite(f.get("limit")):
            return self._request(top, policy)
        limit, peak = f.get("limit", float("nan")), f.get("peak", float("nan"))
        if not finite(limit):
            limit = peak if finite(peak) else s.default_limit_bytes
        near = finite(peak) and peak >= s.near_limit * limit
        step = s.min_step if f.get("oom", 0) > 0 or near else s.headroom
        wanted = max(limit * step, peak * s.headroom if finite(peak) else 0.0)
        value = min(wanted, limit * policy.max_replica_factor, float(policy.max_memory_bytes))
        value_int = _steps(value, s.step_bytes)
        rationale = (
            f"working set peaked at {fmt.nbytes(peak)} against a limit of {fmt.nbytes(limit)}"
            + (f" with {int(f.get('oom', 0))} OOM kill(s)" if f.get("oom") else "")
            + f"; memory limit {fmt.nbytes(limit)} -> {fmt.nbytes(value_int)}"
        )
        return RemediationIntent(
            Action.SET_MEMORY_LIMIT,
            top.workload,
            Field_.MEMORY_LIMIT.value,
            value_int,
            int(limit),
            rationale=rationale,
        )

    def _request(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        f, s = top.facts, self.settings
        peak, request = f.get("peak", float("nan")), f.get("request", float("nan"))
        if not (finite(peak) and finite(request) and peak * s.headroom > request):
            return nothing(top, "no memory limit or request to raise")
        value_int = _steps(min(peak * s.headroom, float(policy.max_memory_bytes)), s.step_bytes)
        rationale = (
            f"working set peaked at {fmt.nbytes(peak)} with no memory limit; memory request "
            f"{fmt.nbytes(request)} -> {fmt.nbytes(value_int)}"
        )
        return RemediationIntent(
            Action.SET_MEMORY_REQUEST,
            top.workload,
            Field_.MEMORY_REQUEST.value,
            value_int,
            int(request),
            rationale=rationale,
        )


def _peak(sig: WorkloadSignals, key: str) -> float:
    return float(np.nanmax(sig.series[key])) if sig.has(key) else float("nan")


def growing(sig: WorkloadSignals) -> bool:
    return any(sig.shift(k).elevated and sig.shift(k).ongoing for k in ("mem", "mem_util"))


def _unbounded_pressure(sig: WorkloadSignals, peak: float, growth: float) -> float:
    """0..1: how far a working set without a binding limit outgrew its request or its node."""
    base = sig.shift("mem").baseline
    if not (growing(sig) and np.isfinite(peak) and base > 0 and peak >= growth * base):
        return 0.0
    pressure = 0.0
    if sig.mem_request_per_pod:
        pressure = max(pressure, clamp((peak / sig.mem_request_per_pod - 1) / 1.5))
    if sig.node_memory:
        pressure = max(pressure, clamp((peak / sig.node_memory - 0.5) / 0.4))
    return max(pressure, clamp((peak / base - growth) / 3) * 0.5)


def memory_score(sig: WorkloadSignals, s: MemoryLimitSettings) -> float:
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
    pressure = _unbounded_pressure(sig, _peak(sig, "mem"), s.growth)
    return 0.4 + 0.35 * pressure if pressure > 0 else 0.0


def memory_causes(
    sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, s: MemoryLimitSettings
) -> list[Candidate]:
    score = memory_score(sig, s)
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
