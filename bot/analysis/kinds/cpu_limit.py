"""CPU limit too low: a workload that runs into its CPU limit under steady load. The fix is a
limit that covers the per-pod demand with headroom; CPU demand that no limit holds back gets a
request that reserves it, or more pods when the request already covers it."""

from __future__ import annotations

import math

from bot.analysis import fmt
from bot.analysis.kinds.base import RemediationIntent
from bot.analysis.kinds.traffic_surge import (
    CpuReadingKind,
    CpuReadingKindSettings,
    TrafficSurgeSettings,
    finite,
    scale,
)
from bot.analysis.symptoms import Candidate
from bot.domain.proposal import Action, Field_
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy


class CpuLimitSettings(CpuReadingKindSettings):
    headroom: float = 1.25
    min_step: float = 1.5  # a new CPU limit at least 1.5x the old one, or throttling persists
    throttled: float = 0.05  # a share of throttled periods at which a limit binds
    near_limit: float = 0.8  # p95 use per pod, as a share of the limit, at which a limit binds
    scaling: TrafficSurgeSettings = TrafficSurgeSettings()  # when more pods are the answer


def limit_binds(f: dict[str, float], settings: CpuLimitSettings | None = None) -> bool:
    """The workload has a CPU limit and runs into it (throttled, or near it)."""
    s = settings or CpuLimitSettings()
    limit, per_pod, thr = f.get("limit_per_pod"), f.get("usage_per_pod_p95"), f.get("thr_p95")
    if not finite(limit):
        return False
    throttled = thr is not None and math.isfinite(thr) and thr >= s.throttled
    return throttled or (finite(per_pod) and per_pod >= s.near_limit * limit)  # type: ignore[operator]


class CpuLimit(CpuReadingKind[CpuLimitSettings]):
    name = CauseKind.CPU_LIMIT
    label = "CPU limit too low"
    phrase = "a CPU limit too low for the steady load of"
    settings_type = CpuLimitSettings

    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        f, s = top.facts, self.settings
        if not limit_binds(f, s):
            return self._request(top, policy)
        limit = f.get("limit_per_pod", float("nan"))
        per_pod, thr = f.get("usage_per_pod_p95", float("nan")), f.get("thr_p95", 0.0)
        thr = thr if math.isfinite(thr) else 0.0
        demand = per_pod * (1 + thr) if finite(per_pod) else float("nan")
        if not finite(limit):
            limit = per_pod if finite(per_pod) else 1.0
        wanted = max(demand * s.headroom if finite(demand) else 0.0, limit * s.min_step)
        value = min(wanted, limit * policy.max_replica_factor, policy.max_cpu_cores)
        value = math.ceil(value * 10 - 1e-9) / 10  # whole tenths of a core (100m)
        rationale = (
            f"per-pod demand ~{fmt.cores(demand)} (p95 usage {fmt.cores(per_pod)} with {fmt.pct(thr)} of "
            f"periods throttled) needs a CPU limit of {value:g} cores (was {limit:g}) "
            f"with {s.headroom - 1:.0%} headroom"
        )
        return RemediationIntent(
            Action.SET_CPU_LIMIT, top.workload, Field_.CPU_LIMIT.value, value, limit, rationale=rationale
        )

    def _request(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        """CPU demand no limit holds back: reserve what it uses, so the scheduler places it where that
        CPU exists and its neighbours keep theirs; when the request already covers it, add pods."""
        f = top.facts
        per_pod, request = f.get("usage_per_pod_p95", float("nan")), f.get("request_per_pod", float("nan"))
        if not (finite(per_pod) and finite(request) and per_pod > request):
            return scale(top, policy, self.settings.scaling)
        value = min(per_pod * self.settings.headroom, policy.max_cpu_cores)
        limit = f.get("limit_per_pod", float("nan"))
        if finite(limit):
            value = min(value, limit)
        value = math.ceil(value * 10 - 1e-9) / 10
        if value <= request:
            return scale(top, policy, self.settings.scaling)
        bound = f"a limit of {fmt.cores(limit)} that it does not reach" if finite(limit) else "no CPU limit"
        rationale = (
            f"CPU use ~{fmt.cores(per_pod)} per pod (p95) with {bound} is more than its request of "
            f"{fmt.cores(request)}; CPU request {request:g} -> {value:g} cores"
        )
        return RemediationIntent(
            Action.SET_CPU_REQUEST,
            top.workload,
            Field_.CPU_REQUEST.value,
            value,
            request,
            rationale=rationale,
        )
