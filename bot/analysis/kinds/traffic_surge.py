"""Traffic surge: more requests than the workload's pods can serve. The fix is more pods, sized
from observed demand: the baseline usage scaled by the traffic ratio (or the throttled usage
scaled up by the throttled share when traffic is unknown)."""

from __future__ import annotations

import math
from typing import TypeVar

from bot.analysis import fmt
from bot.analysis.context import Context
from bot.analysis.cpu import CpuReadingSettings, cpu_causes
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import Candidate
from bot.domain.proposal import Action, Field_
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy


class CpuReadingKindSettings(KindSettings):
    """A CPU kind's settings: its own, and the thresholds of the CPU reading it is read off."""

    reading: CpuReadingSettings = CpuReadingSettings()


R = TypeVar("R", bound=CpuReadingKindSettings)


class TrafficSurgeSettings(CpuReadingKindSettings):
    target_utilisation: float = 0.7  # replicas are sized so the peak runs at 70% of the CPU limit
    # without a CPU limit, a pod's baseline use is taken as half of what it can have
    baseline_utilisation: float = 0.5


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def cpu_demand(facts: dict[str, float]) -> float:
    """Total CPU the workload would use at peak if nothing throttled it."""
    estimates = []
    base, rps_base, rps_peak = facts.get("usage_total_base"), facts.get("rps_base"), facts.get("rps_peak")
    if finite(base) and finite(rps_base) and finite(rps_peak):
        estimates.append(base * rps_peak / rps_base)  # type: ignore[operator]
    usage, thr = facts.get("usage_total_p95"), facts.get("thr_p95")
    if finite(usage):
        estimates.append(usage * (1 + (thr if thr is not None and math.isfinite(thr) else 0.0)))  # type: ignore[operator]
    return max(estimates) if estimates else float("nan")


def scale(top: Candidate, policy: ApprovalPolicy, settings: TrafficSurgeSettings) -> RemediationIntent:
    f = top.facts
    limit, replicas = _per_pod_capacity(f, settings), int(f.get("replicas") or 0)
    demand = cpu_demand(f)
    hpa_max = f.get("hpa_max", float("nan"))
    current = int(hpa_max) if finite(hpa_max) else replicas
    if current <= 0:
        current = 1
    target = settings.target_utilisation
    if finite(demand) and finite(limit):
        needed = math.ceil(demand / (limit * target))
    else:
        needed = math.ceil(current * 2)
    cap = min(int(current * policy.max_replica_factor), policy.max_replicas)
    value = max(min(needed, cap), current + 1)
    field = Field_.HPA_MAX_REPLICAS.value if finite(hpa_max) else Field_.REPLICAS.value
    what = "HPA maxReplicas" if field == Field_.HPA_MAX_REPLICAS.value else "replicas"
    rationale = (
        f"peak demand ~{fmt.cores(demand)} against {fmt.cores(limit)} per pod"
        + ("" if finite(f.get("limit_per_pod")) else " (no CPU limit: sized from its baseline use)")
        + " at "
        f"{target:.0%} target utilisation needs {needed} pods; {what} {current} -> {value}"
    )
    return RemediationIntent(Action.SCALE, top.workload, field, value, current, rationale=rationale)


def _per_pod_capacity(f: dict[str, float], settings: TrafficSurgeSettings) -> float:
    """What one pod may use: its CPU limit; without one, what it used at baseline taken as
    ``baseline_utilisation`` of what it can have (a request alone reserves, it does not cap)."""
    limit = f.get("limit_per_pod", float("nan"))
    if finite(limit):
        return limit
    base = f.get("usage_per_pod_base", float("nan"))
    return base / settings.baseline_utilisation if finite(base) else float("nan")


class CpuReadingKind(BaseKind[R]):
    """A kind read off the one CPU reading (``bot.analysis.cpu``), which decides between a surge
    and a tight limit for each workload; each kind keeps the candidates of its own name."""

    def candidates(self, sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
        return [c for c in cpu_causes(sig, ctx, ev, self.settings.reading) if c.kind is self.name]


class TrafficSurge(CpuReadingKind[TrafficSurgeSettings]):
    name = CauseKind.TRAFFIC_SURGE
    label = "traffic surge"
    phrase = "a traffic surge beyond the capacity of"
    settings_type = TrafficSurgeSettings

    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        return scale(top, policy, self.settings)
