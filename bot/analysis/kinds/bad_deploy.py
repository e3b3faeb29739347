"""Bad deploy: a change to the workload (an image, its environment, its configuration) after which
it began to fail. Errors, crashes and memory fit a change; saturation alone fits one only weakly
(a capacity limit explains it as well). Errors that begin in a workload with nothing else to
explain them are a fault inside it (its origin), the weakest form. The fix is to revert the
commit; without a revertible commit, nothing."""

from __future__ import annotations

import numpy as np

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.explain import (
    change_onset,
    change_symptom_ongoing,
    explained_by,
    in_reach,
    leads_to,
    symptom_onsets,
)
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent, nothing
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import (
    CHANGE_SYMPTOMS,
    COMMIT_AFTER_S,
    COMMIT_BEFORE_S,
    Candidate,
    clamp,
    is_symptomatic,
    saturation,
    symptom,
    traffic_ratio,
    unavailable_since,
)
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.ports.gitrepo import WorkloadChange
from bot.settings import ApprovalPolicy


class BadDeploySettings(KindSettings):
    rollout_only: float = 0.35  # a rollout without a commit we can revert
    only_saturation: float = 0.5  # what is left when the change explains only saturation
    explained: float = 0.35  # ... when a failing callee explains the symptoms
    symptoms_over: float = 0.4  # ... when the symptoms it explains are over while the alert fires
    under_surge: float = 0.6  # ... when saturation under a surge explains them better
    origin: float = 0.28  # a fault inside the workload: under the weak bar, so CPU readings join it
    unreached: float = 0.8  # ... when the alerting workload's symptoms do not lead down to it


class BadDeploy(BaseKind[BadDeploySettings]):
    name = CauseKind.BAD_DEPLOY
    label = "bad deploy"
    phrase = "a recent change to"
    settings_type = BadDeploySettings

    def candidates(self, sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
        return deploy_causes(sig, ctx, ev, self.settings)

    def unexplained(self, sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
        return origin(sig, ctx, ev, self.settings)  # a fault inside it, where the failure starts

    def sentence(self, top: Candidate) -> str:
        if top.facts.get("origin"):
            return f"a fault inside {top.workload} (no change to it was found)"
        if top.change is None:
            return super().sentence(top)
        return f"{self.phrase} {top.workload} (commit {top.change.sha[:8]} '{top.change.subject}')"

    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        change = top.change
        if change is None:
            return nothing(top, "no revertible change found")
        return RemediationIntent(
            Action.REVERT,
            top.workload,
            commit=change.sha,
            reverted=tuple(c for c in change.details.get("changes", []) if isinstance(c, dict)),
            rationale=f"revert {change.sha[:8]} '{change.subject}', the change that preceded the failure",
        )


def deploy_causes(
    sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, s: BadDeploySettings
) -> list[Candidate]:
    # The alert's own condition is a symptom of the workload it fires on, even under our thresholds.
    alerted = ctx.alert_onset_fits_change if sig.name == ctx.alert_workload else None
    if not is_symptomatic(sig, ctx.baseline_end) and alerted is None:
        return []
    onsets = sorted([*symptom_onsets(sig, ctx.baseline_end), *([alerted] if alerted is not None else [])])
    if not onsets:
        return []
    # A change explains the symptoms that begin after it; errors, crashes and memory fit a change,
    # saturation alone fits one only weakly (a capacity limit explains it as well).
    matched: list[tuple[float, WorkloadChange, float, bool]] = []
    for c in ctx.changes_for(sig.name):
        t = c.at.timestamp()
        fit = change_onset(sig, ctx, t)
        if fit is None and alerted is not None and in_reach(alerted, t):
            fit = alerted
        if fit is not None:
            matched.append((fit - t, c, fit, True))
            continue
        sat = [sig.shift(k).onset for k in ("thr", "cpu_util") if symptom(sig, k)]
        reach = [o for o in sat if o is not None and in_reach(o, t)]
        if reach:
            matched.append((min(reach) - t, c, min(reach), False))
    change, onset, fits = None, onsets[0], False
    if matched:
        # Fitting symptoms first; then the change closest before its symptoms; among equals, the latest.
        lag, change, onset, fits = min(
            matched, key=lambda m: (not m[3], max(m[0], 0.0), -m[1].at.timestamp())
        )
    rollout = next(
        (r for r in sig.rollouts if onset - COMMIT_BEFORE_S <= r.at <= onset + COMMIT_AFTER_S), None
    )
    if change is None and rollout is None:
        return []
    if change is not None:
        lag = onset - change.at.timestamp()
        timing = 1.0 if lag <= 20 * 60 else clamp(1.0 - (lag - 20 * 60) / (COMMIT_BEFORE_S - 20 * 60), 0.2)
        kinds = change.kinds
        relevance = 1.0 if kinds & {"image", "env", "config"} else 0.7
        score = (0.5 + 0.3 * timing) * relevance
        if rollout is not None and change.at.timestamp() - 120 <= rollout.at <= onset + COMMIT_AFTER_S:
            score += 0.1
    else:
        score = s.rollout_only  # a rollout without a commit we can revert
        fits = any(symptom(sig, k) for k in CHANGE_SYMPTOMS) or sig.crashloop or sig.oom_restarts > 0
        fits = fits or unavailable_since(sig) is not None
        fits = fits or any(t > ctx.baseline_end for t in sig.restart_times)
    if not fits:
        score *= s.only_saturation  # only saturation: capacity explains that better than a change
    if explained_by(sig, ctx):
        score *= s.explained
    if ctx.alert_active and not (change_symptom_ongoing(sig, ctx.at) or alerted is not None):
        score *= s.symptoms_over  # the symptoms it explains are over while the alert still fires
    if saturation(sig) > 0.3:
        ratio = traffic_ratio(sig, ctx, onset)
        if np.isfinite(ratio) and ratio > 1.4:
            score *= s.under_surge  # saturation under a surge explains the symptoms better than the change
    evidence = ev.deploy(sig, onset, change, rollout)
    return [Candidate(CauseKind.BAD_DEPLOY, sig.name, score, onset, change, evidence, {})]


def origin(sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder, s: BadDeploySettings) -> list[Candidate]:
    """Errors or latency that begin in this workload, still up, that nothing it calls explains and
    no resource, limit or commit accounts for: a fault inside it (a release or setting outside the
    repository, a dependency we cannot see). The weakest cause, but where the failure starts."""
    ongoing = [k for k in ("err_ratio", "p99") if symptom(sig, k) and sig.shift(k).ongoing]
    if not ongoing or explained_by(sig, ctx):
        return []
    onset = min(o for k in ongoing if (o := sig.shift(k).onset) is not None)
    strength = max(clamp(sig.shift(k).elevated_fraction) for k in ongoing)
    score = s.origin * (0.6 + 0.4 * strength)
    if ctx.alert_workload in ctx.signals and sig.name not in leads_to(ctx.signals[ctx.alert_workload], ctx):
        score *= s.unreached  # a fault that does not reach the alert through its symptoms
    evidence = ev.symptoms(sig)
    return [Candidate(CauseKind.BAD_DEPLOY, sig.name, score, onset, None, evidence, {"origin": True})]
