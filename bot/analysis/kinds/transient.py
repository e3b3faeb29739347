"""Transient: the alert's condition has already cleared on its own. Nothing is proposed."""

from __future__ import annotations

from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent, nothing
from bot.analysis.symptoms import Candidate
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy


class TransientSettings(KindSettings):
    pass


class Transient(BaseKind[TransientSettings]):
    name = CauseKind.TRANSIENT
    label = "transient (already cleared)"
    phrase = "a transient condition in"
    settings_type = TransientSettings

    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        return nothing(top, "the condition has already cleared")
