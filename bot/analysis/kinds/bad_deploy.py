"""Bad deploy: a change to the workload (an image, its environment, its configuration) after which
it began to fail. The fix is to revert the commit; without a revertible commit, nothing."""

from __future__ import annotations

from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent, nothing
from bot.analysis.symptoms import Candidate
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy


class BadDeploySettings(KindSettings):
    pass


class BadDeploy(BaseKind[BadDeploySettings]):
    name = CauseKind.BAD_DEPLOY
    label = "bad deploy"
    phrase = "a recent change to"
    settings_type = BadDeploySettings

    def sentence(self, top: Candidate) -> str:
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
