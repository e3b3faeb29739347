"""The scan inside the workflow, on the plain-git host: a refused proposal never reaches git."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.git.patch import apply_diff
from bot.adapters.kubeschema import KubernetesSchema
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import verify_trail
from bot.domain.errors import InvalidInput, PolicyViolation
from bot.domain.proposal import Action, FieldChange, Proposal, ProposalState
from bot.services.policy_scan import SCAN_REFUSED
from bot.services.proposals import ProposalWorkflow
from bot.settings import ApprovalPolicy
from testkit.gitops import GitOpsRemote, git, make_remote
from tests.policy.manifests import DEPLOYMENT, FILES, diff

PATH = "apps/checkout/deployment.yaml"


@pytest.fixture
def remote(tmp_path: Path) -> GitOpsRemote:
    return make_remote(tmp_path / "gitops", FILES)


def _workflow(store: SqlStore, remote: GitOpsRemote, tmp_path: Path) -> ProposalWorkflow:
    return ProposalWorkflow(
        store,
        PlainGitChangeHost(str(remote.bare), tmp_path / "cache"),
        ApprovalPolicy(approvers=["U_ALICE"]),
        clock=lambda: datetime(2026, 11, 25, 10, tzinfo=UTC),
        repo_path=remote.work,
        schema=KubernetesSchema("1.31"),
        apply_diff=apply_diff,
    )


def _scale(replicas: str) -> Proposal:
    after = DEPLOYMENT.replace("replicas: 3", f"replicas: {replicas}")
    return Proposal(
        action=Action.SCALE,
        service="checkout",
        namespace="shop",
        changes=[FieldChange(file=PATH, field="replicas", to=replicas)],
        diff=diff(PATH, DEPLOYMENT, after),
        title=f"Scale checkout to {replicas}",
    )


def test_a_refused_proposal_is_audited_and_never_opened_or_merged(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path)
    before = remote.head()
    with pytest.raises(PolicyViolation) as err:
        wf.submit(_scale("0"), requested_by="U_CAROL")
    assert "scaling to zero is never proposed" in str(err.value)
    refused = _scale("0")
    with pytest.raises(PolicyViolation):
        wf.submit(refused, requested_by="U_CAROL")
    assert store.get_proposal(refused.id) is None
    with pytest.raises(InvalidInput):
        wf.open(refused.id)  # nothing to open
    assert store.list_proposals([ProposalState.MERGED, ProposalState.OPEN, ProposalState.DRAFT]) == []
    assert remote.head() == before and "replicas: 3" in remote.show(PATH)
    assert git(remote.bare, "branch", "--list", "tugboat/*") == ""  # no branch was ever pushed
    (event,) = store.audit_trail(refused.id)
    assert event.kind == SCAN_REFUSED and event.actor == "U_CAROL"
    assert any("scaling to zero" in r for r in event.data["reasons"])
    assert verify_trail(store.audit_trail()) == []


def test_a_passing_proposal_merges_after_approval(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path)
    proposal = wf.submit(_scale("6"), requested_by="U_CAROL")
    opened = wf.open(proposal.id)
    assert wf.decide(opened.id, "U_ALICE", Decision.APPROVE).merged
    assert "replicas: 6" in remote.show(PATH)
    created = store.audit_trail(proposal.id)[0]
    assert created.kind == "proposal.created" and created.data["scan_notes"] == []
