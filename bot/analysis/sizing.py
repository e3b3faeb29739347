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
BASELINE_UTILISATION = 0.5  # without a CPU limit, a pod's baseline use is taken as half of what it can have
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


def _per_pod_capacity(f: dict[str, float]) -> float:
    """What one pod may use: its CPU limit; without one, what it used at baseline taken as
    BASELINE_UTILISATION of what it can have (a request alone reserves, it does not cap)."""
    limit = f.get("limit_per_pod", float("nan"))
    if _finite(limit):
        return limit
    base = f.get("usage_per_pod_base", float("nan"))
    return base / BASELINE_UTILISATION if _finite(base) else float("nan")


def _scale(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    f = top.facts
    limit, replicas = _per_pod_capacity(f), int(f.get("replicas") or 0)
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
        f"peak demand ~{fmt.cores(demand)} against {fmt.cores(limit)} per pod"
        + ("" if _finite(f.get("limit_per_pod")) else " (no CPU limit: sized from its baseline use)")
        + " at "
        f"{TARGET_UTILISATION:.0%} target utilisation needs {needed} pods; {what} {current} -> {value}"
    )
    return RemediationIntent(Action.SCALE, top.workload, field, value, current, rationale=rationale)


def limit_binds(f: dict[str, float]) -> bool:
    """The workload has a CPU limit and runs into it (throttled, or near it)."""
    limit, per_pod, thr = f.get("limit_per_pod"), f.get("usage_per_pod_p95"), f.get("thr_p95")
    if not _finite(limit):
        return False
    throttled = thr is not None and math.isfinite(thr) and thr >= 0.05
    return throttled or (_finite(per_pod) and per_pod >= 0.8 * limit)  # type: ignore[operator]


def _cpu(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    f = top.facts
    if not limit_binds(f):
        return _cpu_request(top, policy)
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


def _cpu_request(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    """CPU demand no limit holds back: reserve what it uses, so the scheduler places it where that
    CPU exists and its neighbours keep theirs; when the request already covers it, add pods."""
    f = top.facts
    per_pod, request = f.get("usage_per_pod_p95", float("nan")), f.get("request_per_pod", float("nan"))
    if not (_finite(per_pod) and _finite(request) and per_pod > request):
        return _scale(top, policy)
    value = min(per_pod * CPU_HEADROOM, policy.max_cpu_cores)
    limit = f.get("limit_per_pod", float("nan"))
    if _finite(limit):
        value = min(value, limit)
    value = math.ceil(value * 10 - 1e-9) / 10
    if value <= request:
        return _scale(top, policy)
    bound = f"a limit of {fmt.cores(limit)} that it does not reach" if _finite(limit) else "no CPU limit"
    rationale = (
        f"CPU use ~{fmt.cores(per_pod)} per pod (p95) with {bound} is more than its request of "
        f"{fmt.cores(request)}; CPU request {request:g} -> {value:g} cores"
    )
    return RemediationIntent(
        Action.SET_CPU_REQUEST, top.workload, Field_.CPU_REQUEST.value, value, request, rationale=rationale
    )


def _memory_request(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    """A working set that grows without a limit: reserve it (a new limit would only kill the pod)."""
    f = top.facts
    peak, request = f.get("peak", float("nan")), f.get("request", float("nan"))
    if not (_finite(peak) and _finite(request) and peak * MEMORY_HEADROOM > request):
        return RemediationIntent(
            Action.NONE, top.workload, rationale="no change proposed: no memory limit or request to raise"
        )
    value = min(peak * MEMORY_HEADROOM, float(policy.max_memory_bytes))
    value_int = int(math.ceil(value / (64 * MEBIBYTE)) * 64 * MEBIBYTE)
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


def _memory(top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
    f = top.facts
    if not _finite(f.get("limit")):
        return _memory_request(top, policy)
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
