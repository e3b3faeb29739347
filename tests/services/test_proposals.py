"""The proposal life cycle against real git, SQLite and PostgreSQL: merge only after approval."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.manifests.workspace import ManifestRepo
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import verify_trail
from bot.domain.proposal import Action, Proposal, ProposalState
from bot.services.proposals import ProposalWorkflow
from bot.settings import ApprovalPolicy, PolicyRule
from tests.support.gitops import DEPLOYMENT, GitOpsRemote, make_remote

PATH = "apps/checkout/deployment.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def remote(tmp_path: Path) -> GitOpsRemote:
    return make_remote(tmp_path / "gitops")


def _scale_proposal(remote: GitOpsRemote, replicas: int = 6) -> Proposal:
    planned = ManifestRepo(remote.work).plan("checkout", "replicas", replicas)
    return Proposal(
        action=Action.SCALE,
        service="checkout",
        namespace="shop",
        changes=planned.changes,
        diff=planned.diff,
        title=f"Scale checkout to {replicas} replicas",
    )


def _workflow(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path, clock: Clock | None = None, **policy: object
) -> ProposalWorkflow:
    host = PlainGitChangeHost(str(remote.bare), tmp_path / "cache")
    rules = policy.pop("rules", [])
    approval_policy = ApprovalPolicy(approvers=["U_ALICE", "U_BOB", "U_CAROL"], rules=rules, **policy)
    return ProposalWorkflow(store, host, approval_policy, clock=clock or Clock())


def _opened(wf: ProposalWorkflow, remote: GitOpsRemote, requested_by: str = "U_CAROL") -> Proposal:
    proposal = wf.submit(_scale_proposal(remote), requested_by=requested_by)
    return wf.open(proposal.id)


def test_approve_merges_once_and_the_trail_verifies(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path)
    proposal = _opened(wf, remote)
    assert proposal.state is ProposalState.OPEN
    assert proposal.branch == f"tugboat/{proposal.id}"
    assert remote.head(proposal.branch) == proposal.head_sha
    assert "replicas: 3" in remote.show(PATH)  # nothing merged before approval

    outcome = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert outcome.merged, outcome.message
    assert remote.show(PATH) == DEPLOYMENT.replace("replicas: 3  #", "replicas: 6  #")
    assert store.get_proposal(proposal.id).state is ProposalState.MERGED  # type: ignore[union-attr]

    again = wf.decide(proposal.id, "U_BOB", Decision.APPROVE)  # a late click
    assert not again.accepted and not again.merged
    trail = store.audit_trail(proposal.id)
    assert [e.kind for e in trail] == [
        "proposal.created",
        "proposal.opened",
        "proposal.approved",
        "proposal.merged",
    ]
    assert verify_trail(store.audit_trail()) == []


@pytest.mark.parametrize(
    ("user", "requested_by", "reason"),
    [("U_MALLORY", "U_CAROL", "is not an approver"), ("U_CAROL", "U_CAROL", "someone else must approve")],
)
def test_refusals_never_merge(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path, user: str, requested_by: str, reason: str
) -> None:
    wf = _workflow(store, remote, tmp_path)
    proposal = _opened(wf, remote, requested_by=requested_by)
    outcome = wf.decide(proposal.id, user, Decision.APPROVE)
    assert not outcome.accepted and reason in outcome.message
    assert "replicas: 3" in remote.show(PATH)


def test_no_configured_approvers_fails_closed(store: SqlStore, remote: GitOpsRemote, tmp_path: Path) -> None:
    host = PlainGitChangeHost(str(remote.bare), tmp_path / "cache")
    wf = ProposalWorkflow(store, host, ApprovalPolicy(), clock=Clock())
    proposal = _opened(wf, remote)
    outcome = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert not outcome.accepted and "no approvers are configured" in outcome.message


def test_namespace_rule_needs_two_approvals(store: SqlStore, remote: GitOpsRemote, tmp_path: Path) -> None:
    wf = _workflow(store, remote, tmp_path, rules=[PolicyRule(namespace="shop", required_approvals=2)])
    proposal = _opened(wf, remote)
    first = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert not first.merged and "1 of 2 approvals" in first.message
    assert wf.decide(proposal.id, "U_ALICE", Decision.APPROVE).message == "you already approved this change"
    assert "replicas: 3" in remote.show(PATH)
    assert wf.decide(proposal.id, "U_BOB", Decision.APPROVE).merged


def test_a_push_after_approval_voids_it(store: SqlStore, remote: GitOpsRemote, tmp_path: Path) -> None:
    wf = _workflow(store, remote, tmp_path, rules=[PolicyRule(namespace="shop", required_approvals=2)])
    proposal = _opened(wf, remote)
    wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    moved = remote.push_to_branch(
        proposal.branch or "", PATH, DEPLOYMENT.replace("replicas: 3", "replicas: 0")
    )
    outcome = wf.decide(proposal.id, "U_BOB", Decision.APPROVE)
    assert not outcome.merged and "voided" in outcome.message
    assert "replicas: 3" in remote.show(PATH)
    latest = store.get_proposal(proposal.id)
    assert latest is not None and latest.state is ProposalState.OPEN and latest.head_sha == moved
    assert store.approvals(proposal.id) == []  # the approvals no longer stand
    voided = [e for e in store.audit_trail(proposal.id) if e.kind == "proposal.approvals_voided"]
    assert sorted(a["user"] for a in voided[0].data["approvals"]) == ["U_ALICE", "U_BOB"]
    assert {a["head_sha"] for a in voided[0].data["approvals"]} == {proposal.head_sha}


def test_expired_and_rejected_proposals_never_merge(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    clock = Clock()
    wf = _workflow(store, remote, tmp_path, clock=clock)
    stale = _opened(wf, remote)
    clock.now += timedelta(hours=25)
    outcome = wf.decide(stale.id, "U_ALICE", Decision.APPROVE)
    assert not outcome.accepted and "expired" in outcome.message
    fresh = _opened(wf, remote)
    rejected = wf.decide(fresh.id, "U_BOB", Decision.REJECT, reason="not during the sale")
    assert rejected.proposal.state is ProposalState.REJECTED
    assert not wf.decide(fresh.id, "U_ALICE", Decision.APPROVE).accepted
    assert "replicas: 3" in remote.show(PATH)
    assert [e.data.get("reason") for e in store.audit_trail(fresh.id) if e.kind == "proposal.rejected"] == [
        "not during the sale"
    ]


def test_concurrent_approvals_on_two_instances_merge_once(
    store_url: str, remote: GitOpsRemote, tmp_path: Path
) -> None:
    with SqlStore.open(store_url) as one, SqlStore.open(store_url) as two:
        first = _workflow(one, remote, tmp_path / "a")
        second = _workflow(two, remote, tmp_path / "b")
        proposal = _opened(first, remote)
        outcomes = []
        barrier = threading.Barrier(4)

        def click(wf: ProposalWorkflow, user: str) -> None:
            barrier.wait()
            outcomes.append(wf.decide(proposal.id, user, Decision.APPROVE))

        threads = [
            threading.Thread(target=click, args=(wf, user))
            for wf, user in ((first, "U_ALICE"), (second, "U_ALICE"), (first, "U_BOB"), (second, "U_BOB"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(o.merged for o in outcomes) == 1
        merges = [e for e in one.audit_trail(proposal.id) if e.kind == "proposal.merged"]
        assert len(merges) == 1
        assert verify_trail(one.audit_trail()) == []


def test_restart_between_approval_and_merge_merges_once(
    store_url: str, remote: GitOpsRemote, tmp_path: Path
) -> None:
    with SqlStore.open(store_url) as store:
        wf = _workflow(store, remote, tmp_path)
        proposal = _opened(wf, remote)
        # the process dies right after the approval was recorded and the state moved
        assert store.transition(proposal.id, [ProposalState.OPEN], ProposalState.APPROVED)
    with SqlStore.open(store_url) as reopened:
        wf = _workflow(reopened, remote, tmp_path)
        resumed = [wf.merge(p.id) for p in reopened.list_proposals([ProposalState.APPROVED])]
        assert [o.merged for o in resumed] == [True]
        assert not wf.merge(proposal.id).merged  # a second resume does nothing
    assert "replicas: 6" in remote.show(PATH)
