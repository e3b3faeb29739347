"""The change-requests use cases without Slack: scale, limits, rollback and drafts, bounded by
the approval policy and opened as branches on a real git remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.git.changes import describe
from bot.adapters.git.history import LocalGitHistory
from bot.adapters.manifests.workspace import ManifestRepo
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.errors import ConflictError, InvalidInput, TugboatError
from bot.domain.proposal import Action, Proposal, ProposalState
from bot.ports.chat import ReplyTarget
from bot.services.change_requests import NO_REPOSITORY, ChangeRequests
from bot.services.proposals import ProposalWorkflow
from bot.settings import ApprovalPolicy
from testkit.gitops import GitOpsRemote, git, make_remote, scale_proposal

PATH = "apps/checkout/deployment.yaml"
POLICY = ApprovalPolicy(
    approvers=["U_ALICE", "U_BOB"], max_replicas=8, max_cpu_cores=4.0, max_memory_bytes=2 * 1024**3
)


class Reports:
    """The proposals investigation reports offered (``IncidentService.proposal_from_reports``)."""

    def __init__(self, *offered: Proposal) -> None:
        self.offered = {p.id: p for p in offered}

    def proposal_from_reports(self, proposal_id: str) -> Proposal | None:
        return self.offered.get(proposal_id)


@pytest.fixture
def remote(tmp_path: Path) -> GitOpsRemote:
    return make_remote(tmp_path / "gitops")


def _requests(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path, reports: Reports | None = None
) -> ChangeRequests:
    host = PlainGitChangeHost(str(remote.bare), tmp_path / "cache")
    workflow = ProposalWorkflow(store, host, POLICY)
    return ChangeRequests(
        POLICY,
        store,
        workflow,
        workspace=lambda: ManifestRepo(remote.work),
        history=LocalGitHistory(remote.work),
        changed_workloads=describe,
        reports=reports,
    )


def test_scale_within_the_bound_opens_a_branch_and_above_it_is_refused(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    requests = _requests(store, remote, tmp_path)
    opened = requests.scale("checkout", 8, "U_CAROL")
    proposal = opened.proposal
    assert opened.requested_by == "U_CAROL" and proposal.requested_by == "U_CAROL"
    assert proposal.state is ProposalState.OPEN and proposal.action is Action.SCALE
    assert proposal.title == "8 replicas for checkout" and proposal.changes[0].to == 8
    assert proposal.branch and "replicas: 8  # owned by on-call" in remote.show(PATH, proposal.branch)
    assert "replicas: 3" in remote.show(PATH)  # nothing merged without an approval

    with pytest.raises(InvalidInput, match=r"9 replicas is above the policy's maximum of 8"):
        requests.scale("checkout", 9, "U_CAROL")
    with pytest.raises(InvalidInput, match="already has 3 replicas; nothing to change"):
        requests.scale("checkout", 3, "U_CAROL")
    with pytest.raises(InvalidInput, match="no workload named 'nosuch'"):
        requests.scale("nosuch", 2, "U_CAROL")
    assert [p.id for p in store.list_proposals()] == [proposal.id]  # refusals record nothing


def test_limits_are_bounded_by_the_policy(store: SqlStore, remote: GitOpsRemote, tmp_path: Path) -> None:
    requests = _requests(store, remote, tmp_path)
    cpu = requests.limits("checkout", "cpu", "1500m", "U_CAROL").proposal
    assert cpu.action is Action.SET_CPU_LIMIT and cpu.title == "CPU limit 1500m for checkout"
    assert 'cpu: "1500m"' in cpu.diff or "cpu: 1500m" in cpu.diff
    memory = requests.limits("checkout", "memory", "1Gi", "U_CAROL").proposal
    assert memory.action is Action.SET_MEMORY_LIMIT and memory.changes[0].to == 1024**3
    assert "memory: 1Gi" in memory.diff

    with pytest.raises(InvalidInput, match=r"at most 4\.0 cores"):
        requests.limits("checkout", "cpu", "5", "U_CAROL")
    with pytest.raises(InvalidInput, match="above 0"):
        requests.limits("checkout", "cpu", "0", "U_CAROL")
    with pytest.raises(InvalidInput, match="at most 2Gi"):
        requests.limits("checkout", "memory", "3Gi", "U_CAROL")
    with pytest.raises(TugboatError, match="not a Kubernetes quantity"):
        requests.limits("checkout", "memory", "1Gb", "U_CAROL")
    assert len(store.list_proposals()) == 2


def test_rollback_reverts_the_newest_commit_of_the_named_workload(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    requests = _requests(store, remote, tmp_path)
    with pytest.raises(TugboatError, match="first commit; it cannot be reverted"):
        requests.rollback("checkout", "U_CAROL")  # only the initial layout so far
    with pytest.raises(InvalidInput, match="no commit in the last 30 days changed payments"):
        requests.rollback("payments", "U_CAROL")
    path = remote.work / PATH
    path.write_text(path.read_text().replace("checkout:1.4.2", "checkout:1.5.0"))
    git(remote.work, "commit", "-qam", "checkout 1.5.0")
    (remote.work / "README.md").write_text("unrelated\n")
    git(remote.work, "add", "README.md")
    git(remote.work, "commit", "-qm", "docs")
    git(remote.work, "push", "-q", "origin", "main")
    release = git(remote.work, "rev-parse", "HEAD~1")

    proposal = requests.rollback("checkout", "U_CAROL").proposal
    assert proposal.action is Action.REVERT and proposal.commit == release  # not the newer docs commit
    assert proposal.title == f"revert {release[:8]} (checkout 1.5.0) for checkout"
    assert "-          image: registry.example.com/shop/checkout:1.5.0" in proposal.diff
    assert proposal.branch and "checkout:1.4.2" in remote.show(PATH, proposal.branch)
    assert proposal.state is ProposalState.OPEN


def test_a_draft_opens_the_offered_fix_once(store: SqlStore, remote: GitOpsRemote, tmp_path: Path) -> None:
    offered = scale_proposal(remote.work, replicas=5)
    requests = _requests(store, remote, tmp_path, Reports(offered))

    drafted = requests.draft(offered.id, "U_CAROL")
    assert drafted.proposal.id == offered.id and drafted.proposal.state is ProposalState.OPEN
    assert drafted.requested_by == "U_CAROL"
    with pytest.raises(ConflictError, match="this change is already open for approval"):
        requests.draft(offered.id, "U_DAVE")
    with pytest.raises(InvalidInput, match="no longer known; investigate again"):
        requests.draft("p-unknown", "U_CAROL")

    status = requests.status()
    [row] = status.proposals
    assert row.proposal.id == offered.id and row.needed == 1 and row.approvers == []
    assert status.approvers == ["U_ALICE", "U_BOB"]


def test_the_requester_may_not_approve_and_an_approver_merges(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    """The workflow, not the chat adapter, applies the approver policy."""
    requests = _requests(store, remote, tmp_path)
    proposal = requests.scale("checkout", 5, "U_ALICE").proposal
    refused = requests.approve(proposal.id, "U_ALICE", proposal.head_sha)
    assert not refused.accepted and "someone else must approve" in refused.message
    assert requests.why_not_reject(proposal.id, "U_MALLORY")  # not an approver
    assert requests.why_not_reject(proposal.id, "U_BOB") is None
    where = ReplyTarget("C1", ts="1.2", user="U_BOB")
    merged = requests.approve(proposal.id, "U_BOB", proposal.head_sha, where)
    assert merged.merged and "replicas: 5" in remote.show(PATH)
    decisions = [a.decision for a in store.approvals(proposal.id)]
    assert decisions == [Decision.APPROVE]  # the refused click recorded no approval


def test_without_a_repository_every_request_says_how_to_enable_changes(store: SqlStore) -> None:
    requests = ChangeRequests(POLICY, store, None)
    for attempt in (
        lambda: requests.require_repository(),
        lambda: requests.scale("checkout", 2, "U_CAROL"),
        lambda: requests.draft("p-1", "U_CAROL"),
        lambda: requests.status(),
    ):
        with pytest.raises(InvalidInput, match="set TUGBOAT_REPO"):
            attempt()
    assert "TUGBOAT_REPO" in NO_REPOSITORY


def test_a_reply_target_survives_a_job_and_reads_older_jobs() -> None:
    where = ReplyTarget("C1", ts="1.2", thread_ts="1.0", user="U_BOB")
    assert ReplyTarget.from_dict(where.to_dict()) == where
    assert ReplyTarget.from_dict({"channel": "C1", "ts": "1.2", "thread": "1.0", "user": "U_BOB"}) == where
    assert ReplyTarget.from_dict({}) is None and ReplyTarget.from_dict(None) is None
