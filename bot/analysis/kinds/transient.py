"""Transient: the alert's condition has already cleared on its own, and no saturation or memory
pressure is still going on. It is named where the episode happened (down the call graph).
Nothing is proposed."""

from __future__ import annotations

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.explain import cleared, episode_source, still_ongoing
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent, nothing
from bot.analysis.symptoms import SYMPTOMS, Candidate, is_symptomatic, symptom
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy


class TransientSettings(KindSettings):
    cleared: float = 0.9  # the alert cleared and nothing else still goes on
    cleared_while_ongoing: float = 0.45  # the alert cleared, but saturation or memory still goes on
    unattended: float = 0.7  # no alert state known: the symptoms are over, none still up


class Transient(BaseKind[TransientSettings]):
    name = CauseKind.TRANSIENT
    label = "transient (already cleared)"
    phrase = "a transient condition in"
    settings_type = TransientSettings

    def episode(self, ctx: Context, ev: EvidenceBuilder, others: list[Candidate]) -> list[Candidate]:
        target = ctx.alert_workload or (max(others, key=lambda c: c.score).workload if others else None)
        if target is None:
            return []
        sig = ctx.signals.get(target)
        ongoing = [
            c
            for c in others
            if c.kind in (CauseKind.CPU_LIMIT, CauseKind.TRAFFIC_SURGE, CauseKind.MEMORY_LIMIT)
            and still_ongoing(ctx.signals.get(c.workload), ctx.at)
        ]
        s = self.settings
        if ctx.alert_cleared:
            score = (s.cleared if not ongoing else s.cleared_while_ongoing) * (1.0 if cleared(ctx) else 0.5)
        elif ctx.alert_active is None and sig is not None and is_symptomatic(sig):
            over = [k for k in SYMPTOMS if symptom(sig, k) and sig.shift(k).cleared]
            still = [k for k in SYMPTOMS if symptom(sig, k) and sig.shift(k).ongoing]
            if not over or still or ongoing:
                return []
            score = s.unattended
        else:
            return []
        source = episode_source(ctx, target)
        return [
            Candidate(CauseKind.TRANSIENT, source, score, ctx.alert_onset, None, ev.transient(source), {})
        ]

    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        return nothing(top, "the condition has already cleared")
