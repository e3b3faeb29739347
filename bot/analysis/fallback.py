"""Weak explanations for an alert that no hypothesis explains clearly.

An investigation of a firing alert always names its best-supported candidates, with honestly low
scores: the alerting workload's own CPU load and traffic first (a rise that stays under the usual
saturation bar still tells a surge from a tight limit), then any workload whose CPU rose.
"""

from __future__ import annotations

import numpy as np

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.hypotheses import Candidate, hypotheses, traffic_ratio
from bot.analysis.kinds import KINDS, Kinds
from bot.analysis.ranking import rank
from bot.analysis.signals import WorkloadSignals
from bot.domain.report import CauseKind

WEAK = 0.3  # the most a weak explanation scores; a hypothesis under it has not cleared its bar


def _load(sig: WorkloadSignals) -> float:
    """0..1: how high the CPU ran against its limit after the baseline."""
    util = sig.shift("cpu_util")
    if util.elevated and np.isfinite(util.peak):
        return float(min(util.peak, 1.0))
    thr = sig.shift("thr")
    return float(min(0.5 + thr.peak, 1.0)) if thr.elevated and np.isfinite(thr.peak) else 0.0


def _capacity(sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, strength: float) -> list[Candidate]:
    onsets = [sig.shift(k).onset for k in ("cpu_util", "thr", "rps") if sig.shift(k).elevated]
    onset = min((o for o in onsets if o is not None), default=None)
    ratio = traffic_ratio(sig, ctx, onset)
    surge_w = float(np.clip((ratio - 1.15) / 0.3, 0.0, 1.0)) if np.isfinite(ratio) else 0.5
    facts = ev.cpu_facts(sig, onset)
    facts["traffic_ratio"] = ratio
    evidence = ev.saturation(sig, onset, ratio)
    score = WEAK * strength
    surge, limit = score * (0.5 + 0.5 * surge_w), score * (1.0 - 0.5 * surge_w)
    return [
        Candidate(CauseKind.TRAFFIC_SURGE, sig.name, surge, onset, None, evidence, facts),
        Candidate(CauseKind.CPU_LIMIT, sig.name, limit, onset, None, evidence, facts),
    ]


def weak_candidates(ctx: Context) -> list[Candidate]:
    ev = EvidenceBuilder(ctx)
    out: list[Candidate] = []
    for sig in ctx.signals.values():
        load = _load(sig)
        if load > 0:
            out += _capacity(sig, ctx, ev, (0.5 + 0.5 * load) * ctx.relevance(sig.name))
    own = ctx.signals.get(ctx.alert_workload or "")
    if not out and own is not None and own.has("cpu"):
        out += _capacity(own, ctx, ev, 0.6)  # nothing moved: the alert's own workload, barely
    return out


def ranked_causes(ctx: Context, kinds: Kinds = KINDS) -> list[Candidate]:
    """The hypotheses, best first, joined by the weak candidates when none clears its bar."""
    cands = hypotheses(ctx, kinds)
    ranked = rank(cands)
    if ranked and ranked[0].score >= WEAK:
        return ranked
    return rank(cands + weak_candidates(ctx))
