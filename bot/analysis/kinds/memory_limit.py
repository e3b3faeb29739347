"""Memory limit too low: a working set that reaches its limit (OOM kills) or grows towards it. The
fix is a limit that covers the peak working set with headroom, at least doubling when OOM kills
show the demand is above the current limit; a working set that grows without a limit gets a
request that reserves it (a new limit would only kill the pod)."""

from __future__ import annotations

import math

from bot.analysis import fmt
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent, nothing
from bot.analysis.kinds.traffic_surge import finite
from bot.analysis.symptoms import Candidate
from bot.domain.proposal import Action, Field_
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy

MEBIBYTE = 1024**2


class MemoryLimitSettings(KindSettings):
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
