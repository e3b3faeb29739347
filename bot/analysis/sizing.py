"""Size the remediation for the top cause: each kind sizes its own fix (``bot.analysis.kinds``).

Sizing works from observed demand, never from fixed targets, and every value is bounded by the
approval policy.
"""

from __future__ import annotations

from bot.analysis.kinds import KINDS, Kinds, RemediationIntent
from bot.analysis.kinds.cpu_limit import limit_binds
from bot.analysis.kinds.traffic_surge import cpu_demand
from bot.analysis.symptoms import Candidate
from bot.settings import ApprovalPolicy

__all__ = ["RemediationIntent", "cpu_demand", "limit_binds", "size"]


def size(top: Candidate, policy: ApprovalPolicy, kinds: Kinds = KINDS) -> RemediationIntent:
    return kinds[top.kind].size_remediation(top, policy)
