"""Size the remediation for the top cause: replicas, CPU or memory limits, revert, or nothing.

Sizing works from observed demand, never from fixed targets: the CPU a surge needs is the
baseline usage scaled by the traffic ratio (or the throttled usage scaled up by the throttled
share when traffic is unknown); a CPU limit must cover the per-pod demand with headroom; a memory
limit must cover the peak working set with headroom, at least doubling when OOM kills show the
demand is above the current limit. Every value is bounded by the approval policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.analysis import fmt
from bot.analysis.hypotheses import Candidate
from bot.domain.proposal import Action, Field_
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy

TARGET_UTILISATION = 0.7  # replicas are sized so the peak runs at 70% of the CPU limit
CPU_HEADROOM = 1.25
MEMORY_HEADROOM = 1.5
MIN_CPU_STEP = 1.5  # a new CPU limit at least 1.5x the old one, or throttling persists
MIN_MEMORY_STEP = 2.0
MEBIBYTE = 1024**2


@dataclass(frozen=True)
class RemediationIntent:
    action: Action
    workload: str
    field: str | None = None
    value: float | int | None = None
    current: float | int | None = None
    commit: str | None = None
    rationale: str = ""
    reverted: tuple[dict[str, Any], ...] = ()  # for a revert: the commit's field changes, as described


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def size(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    if top.kind is CauseKind.TRAFFIC_SURGE:
        return _scale(top, policy)
    if top.kind is CauseKind.CPU_LIMIT:
        return _cpu(top, policy)
    if top.kind is CauseKind.MEMORY_LIMIT:
        return _memory(top, policy)
    if top.kind is CauseKind.BAD_DEPLOY and top.change is not None:
        return RemediationIntent(
            Action.REVERT,
            top.workload,
            commit=top.change.sha,
            reverted=tuple(c for c in top.change.details.get("changes", []) if isinstance(c, dict)),
            rationale=f"revert {top.change.sha[:8]} '{top.change.subject}', "
            "the change that preceded the failure",
        )
    reason = (
        "the condition has already cleared"
        if top.kind is CauseKind.TRANSIENT
        else "no revertible change found"
    )
    return RemediationIntent(Action.NONE, top.workload, rationale=f"no change proposed: {reason}")


def cpu_demand(facts: dict[str, float]) -> float:
    """Total CPU the workload would use at peak if nothing throttled it."""
    estimates = []
    base, rps_base, rps_peak = facts.get("usage_total_base"), facts.get("rps_base"), facts.get("rps_peak")
    if _finite(base) and _finite(rps_base) and _finite(rps_peak):
        estimates.append(base * rps_peak / rps_base)  # type: ignore[operator]
    usage, thr = facts.get("usage_total_p95"), facts.get("thr_p95")
    if _finite(usage):
        estimates.append(usage * (1 + (thr if thr is not None and math.isfinite(thr) else 0.0)))  # type: ignore[operator]
    return max(estimates) if estimates else float("nan")


def _scale(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    f = top.facts
    limit, replicas = f.get("limit_per_pod", float("nan")), int(f.get("replicas") or 0)
    demand = cpu_demand(f)
    hpa_max = f.get("hpa_max", float("nan"))
    current = int(hpa_max) if _finite(hpa_max) else replicas
    if current <= 0:
        current = 1
    if _finite(demand) and _finite(limit):
        needed = math.ceil(demand / (limit * TARGET_UTILISATION))
    else:
        needed = math.ceil(current * 2)
    cap = min(int(current * policy.max_replica_factor), policy.max_replicas)
    value = max(min(needed, cap), current + 1)
    field = Field_.HPA_MAX_REPLICAS.value if _finite(hpa_max) else Field_.REPLICAS.value
    what = "HPA maxReplicas" if field == Field_.HPA_MAX_REPLICAS.value else "replicas"
    rationale = (
        f"peak demand ~{fmt.cores(demand)} against {fmt.cores(limit)} per pod at "
        f"{TARGET_UTILISATION:.0%} target utilisation needs {needed} pods; {what} {current} -> {value}"
    )
    return RemediationIntent(Action.SCALE, top.workload, field, value, current, rationale=rationale)


def _cpu(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    f = top.facts
    limit = f.get("limit_per_pod", float("nan"))
    per_pod, thr = f.get("usage_per_pod_p95", float("nan")), f.get("thr_p95", 0.0)
    thr = thr if math.isfinite(thr) else 0.0
    demand = per_pod * (1 + thr) if _finite(per_pod) else float("nan")
    if not _finite(limit):
        limit = per_pod if _finite(per_pod) else 1.0
    wanted = max(demand * CPU_HEADROOM if _finite(demand) else 0.0, limit * MIN_CPU_STEP)
    value = min(wanted, limit * policy.max_replica_factor, policy.max_cpu_cores)
    value = math.ceil(value * 10 - 1e-9) / 10  # whole tenths of a core (100m)
    rationale = (
        f"per-pod demand ~{fmt.cores(demand)} (p95 usage {fmt.cores(per_pod)} with {fmt.pct(thr)} of periods "
        f"throttled) needs a CPU limit of {value:g} cores (was {limit:g}) "
        f"with {CPU_HEADROOM - 1:.0%} headroom"
    )
    return RemediationIntent(
        Action.SET_CPU_LIMIT, top.workload, Field_.CPU_LIMIT.value, value, limit, rationale=rationale
    )


def _memory(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    f = top.facts
    limit, peak = f.get("limit", float("nan")), f.get("peak", float("nan"))
    if not _finite(limit):
        limit = peak if _finite(peak) else 512 * MEBIBYTE
    step = (
        MIN_MEMORY_STEP if f.get("oom", 0) > 0 or (_finite(peak) and peak >= 0.9 * limit) else MEMORY_HEADROOM
    )
    wanted = max(limit * step, peak * MEMORY_HEADROOM if _finite(peak) else 0.0)
    value = min(wanted, limit * policy.max_replica_factor, float(policy.max_memory_bytes))
    value_int = int(math.ceil(value / (64 * MEBIBYTE)) * 64 * MEBIBYTE)  # whole 64 MiB steps
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
