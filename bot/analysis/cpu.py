"""CPU as the cause of an incident.

Two readings of the same resource. A workload that runs into its CPU limit is under-provisioned:
a traffic surge when its requests rose with the load, a limit too low when they held steady.
Where no limit binds (none is set, or it is generous), CPU use that rose far past the workload's
own baseline, more than its traffic explains, is a cause in its own right (a runaway loop, a hot
code path); it is measured against the workload's request and its nodes' capacity, and its fix
is never a limit. CPU that rose much less than its traffic has hit a ceiling only if it stopped
following the traffic at its top: a large idle share also makes CPU rise less than the traffic,
with headroom left. Saturation that had ended before the incident began explains nothing after it.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import (
    Candidate,
    clamp,
    ended_before,
    hurting,
    onset_of,
    saturation,
    traffic,
    traffic_ratio,
)
from bot.domain.report import CauseKind


class CpuReadingSettings(BaseModel):
    """The thresholds of the one CPU reading that both CPU kinds are read off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ended: float = 0.3  # what is left of a saturation's score once it ended before the incident
    alternate: float = 0.9  # the other kind of the same evidence never outranks the one it fits better
    demand_rise: float = 2.0  # CPU per request this many times its baseline is a rise of its own
    demand_min_cores: float = 0.15  # a rise smaller than this (in cores) is no cause
    ceiling_top: float = 0.9  # CPU at this share of its peak since the onset is at the workload's top
    # CPU that rises at its top with at least this elasticity to the traffic still follows it; the
    # elasticity is the lower end of the 95% interval of its Theil-Sen slope, so noise is no following
    follows_from: float = 0.3
    follows_full: float = 0.7


def cpu_causes(
    sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, settings: CpuReadingSettings
) -> list[Candidate]:
    sat = saturation(sig)
    if sat <= 0 and sig.name == ctx.alert_workload and ctx.alert_active and ctx.alert_measures_cpu:
        # The alert's own CPU condition sets where "near the limit" starts for this workload.
        sat = 0.5 if sig.shift("cpu_util").elevated or sig.shift("thr").elevated else 0.0
    if sat > 0:
        return _limit_causes(sig, ctx, ev, sat, settings)
    return _demand_causes(sig, ctx, ev, settings)


def _pair(
    sig: WorkloadSignals,
    surge_w: float,
    score: float,
    onset: float | None,
    evidence: list,
    facts: dict,
    alternate: float,
) -> list[Candidate]:
    """One kind decided from the workload's own evidence, the other kept below it as an alternative."""
    surge, limit = CauseKind.TRAFFIC_SURGE, CauseKind.CPU_LIMIT
    primary, other = (surge, limit) if surge_w >= 0.5 else (limit, surge)
    out = [Candidate(primary, sig.name, score, onset, None, evidence, facts)]
    doubt = 1.0 - abs(2 * surge_w - 1)  # 1 when the traffic cannot tell the kinds apart
    if doubt > 0:
        out.append(
            Candidate(other, sig.name, score * alternate * (0.6 + 0.4 * doubt), onset, None, evidence, facts)
        )
    return out


def _limit_causes(
    sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, sat: float, settings: CpuReadingSettings
) -> list[Candidate]:
    # Saturation counts from its first sustained rise, even before it reaches the symptom level:
    # the traffic it is compared with must be the traffic since then.
    rises = [sig.shift(k).onset for k in ("thr", "cpu_util") if sig.shift(k).elevated]
    onset = onset_of(sig, ("thr", "cpu_util")) or min((o for o in rises if o is not None), default=None)
    ratio = traffic_ratio(sig, ctx, onset)
    surge_w = clamp((ratio - 1.25) / 0.35) if np.isfinite(ratio) else 0.3
    # Saturation that still hurts requests (its own or its callers' view of it) explains an alert.
    score = 0.45 + 0.35 * sat + (0.1 if hurting(sig, ctx) else 0.0)
    if ended_before(sig, ctx, ("thr", "cpu_util")):
        score *= settings.ended
    facts = ev.cpu_facts(sig, onset)
    facts["traffic_ratio"] = ratio
    return _pair(sig, surge_w, score, onset, ev.saturation(sig, onset, ratio), facts, settings.alternate)


def _demand_causes(
    sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, settings: CpuReadingSettings
) -> list[Candidate]:
    rise = settings.demand_rise
    shift = sig.shift("cpu")
    if not (shift.elevated and shift.ongoing) or shift.onset is None:
        return []
    cpu = sig.series["cpu"]
    since = cpu[(ctx.grid >= shift.onset) & np.isfinite(cpu)]
    now, base = float(np.median(since)), max(shift.baseline, 0.005)
    if now - base < settings.demand_min_cores:
        return []
    ratio = traffic_ratio(sig, ctx, shift.onset)
    per_request = (now / base) / ratio if np.isfinite(ratio) and ratio > 0 else now / base
    pods = max(sig.replicas or 1, 1)
    pressure = 0.0
    if sig.cpu_request_per_pod:
        pressure = max(pressure, clamp((now / pods / sig.cpu_request_per_pod - 1) / 2))
    if sig.node_cpu:
        pressure = max(pressure, clamp((now / pods / sig.node_cpu - 0.5) / 0.4))
    harm = hurting(sig, ctx)
    ceiling = _ceiling(sig, ctx, shift.onset, per_request, settings)
    if per_request < rise and (sig.cpu_limit_per_pod or not (harm and (pressure > 0 or ceiling > 0))):
        # CPU that follows the traffic is load, not a fault: under a limit it does not reach it has
        # headroom, and without one it counts only when it is what hurts
        return []
    facts = ev.cpu_facts(sig, shift.onset)
    facts["traffic_ratio"] = ratio
    if per_request < rise:  # load: it counts as much as the harm it does and the CPU it lacks
        score = 0.45 + 0.25 * max(pressure, ceiling) + 0.1 + 0.1 * ceiling
        facts["load_only"] = 0.0 if ceiling > 0 else 1.0
    else:
        strength = clamp(math.log(per_request / rise) / math.log(10))
        score = 0.4 + 0.3 * strength + 0.15 * pressure + (0.1 if harm else 0.0)
    surge_w = clamp((ratio - 1.25) / 0.35) if np.isfinite(ratio) and per_request < rise else 0.0
    evidence = ev.demand(sig, shift.onset, ratio)
    return _pair(sig, surge_w, score, shift.onset, evidence, facts, settings.alternate)


def _ceiling(
    sig: WorkloadSignals, ctx: Context, onset: float, per_request: float, settings: CpuReadingSettings
) -> float:
    """How surely CPU that rose much less than its traffic hit a ceiling (node, threads), 0 to 1.

    A ceiling is a plateau: at its top the CPU no longer follows the traffic's variation. CPU with
    a large idle share also rises less than its traffic, but keeps following it. Where the traffic
    at the top varies too little to tell, the interval is wide and the lag alone decides.
    """
    lag = clamp((0.85 - per_request) / 0.35)
    rps = traffic(sig, ctx)
    if lag <= 0 or rps is None:
        return lag
    cpu = sig.series["cpu"]
    since = (ctx.grid >= onset) & np.isfinite(cpu) & np.isfinite(rps) & (cpu > 0) & (rps > 0)
    if since.sum() < 10:
        return lag
    top = since & (cpu >= settings.ceiling_top * np.percentile(cpu[since], 95))
    if top.sum() < 10 or np.ptp(rps[top]) <= 0:
        return lag
    from scipy.stats import theilslopes  # scipy takes a second to load; only this reading needs it

    low = theilslopes(np.log(cpu[top]), np.log(rps[top]))[2]
    follows = clamp((low - settings.follows_from) / (settings.follows_full - settings.follows_from))
    return lag * (1.0 - follows)
