"""Root-cause hypotheses of every registered kind, for every workload in the namespace.

Each kind (``bot.analysis.kinds``) scores its own hypotheses from first principles: a saturated
workload whose traffic rose is a surge, one whose traffic held steady is under-provisioned; OOM
kills point at the memory limit; errors that start right after a change to the workload point
at that change; an alert whose condition has already cleared is transient. Here they are weighed
against each other: memory that explains an incident explains the CPU its collector burns, CPU
that follows the traffic of a workload whose callee fails is the callee's doing, and a surge the
workload cannot keep up with explains saturation better than a change. Symptoms that a
downstream dependency explains are discounted in favour of the callee.
"""

from __future__ import annotations

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.explain import cleared, explained_by
from bot.analysis.kinds import KINDS, Kinds
from bot.analysis.symptoms import Candidate, is_symptomatic, onset_of, saturation, traffic_ratio
from bot.domain.report import CauseKind

__all__ = ["Candidate", "hypotheses", "is_symptomatic", "onset_of", "traffic_ratio"]

GC_SHARE = 0.85  # CPU of a workload whose memory explains the incident is its collector at work
SURGE_OVER_CHANGE = 0.6  # as for saturation under a surge in bad_deploy's candidates
EXPLAINED_LOAD = 0.5  # CPU that follows traffic, on a workload whose callee explains its symptoms
CPU_KINDS = (CauseKind.TRAFFIC_SURGE, CauseKind.CPU_LIMIT)


def hypotheses(ctx: Context, kinds: Kinds = KINDS) -> list[Candidate]:
    """Every kind's hypotheses (``kinds``: the registry with the configured thresholds)."""
    ev = EvidenceBuilder(ctx)
    cands: list[Candidate] = []
    for sig in ctx.signals.values():
        found = {name: kind.candidates(sig, ctx, ev) for name, kind in kinds.items()}
        memory = found.get(CauseKind.MEMORY_LIMIT, [])
        cpu = [c for name in CPU_KINDS for c in found.get(name, [])]
        deploy = found.get(CauseKind.BAD_DEPLOY, [])
        if any(m.score >= 0.6 for m in memory):
            for cand in cpu:
                cand.score *= GC_SHARE
        if any(c.facts.get("load_only") for c in cpu) and explained_by(sig, ctx):
            for cand in cpu:
                cand.score *= EXPLAINED_LOAD  # it is slow because what it calls is
        if saturation(sig) <= 0.3 and any(c.kind is CauseKind.TRAFFIC_SURGE and c.score >= 0.6 for c in cpu):
            for cand in deploy:  # no limit binds, but a surge it cannot keep up with explains it better
                cand.score *= SURGE_OVER_CHANGE
        own = [c for group in found.values() for c in group]
        cands += own or [c for kind in kinds.values() for c in kind.unexplained(sig, ctx, ev)]
    for kind in kinds.values():
        cands += kind.episode(ctx, ev, cands)
    for cand in cands:
        cand.score *= ctx.relevance(cand.workload)
        if cand.kind is not CauseKind.TRANSIENT and cleared(ctx):
            cand.score *= 0.5
    return cands
