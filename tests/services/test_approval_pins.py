"""An approval covers exactly the change the approver saw: one head commit, Tugboat's own, checked
again just before the merge; anything else on the branch ends the proposal as tampered. Every
refused decision is in the audit trail. Real git remotes, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import verify_trail
from bot.domain.errors import InvalidInput, Tampered
from bot.domain.policy import ApprovalPolicy, PolicyRule
from bot.domain.proposal import Action, Proposal, ProposalState
from bot.services.proposals import ProposalWorkflow
from testkit.gitops import DEPLOYMENT, GitOpsRemote, git, limit_proposal, make_remote, scale_proposal

PATH = "apps/checkout/deployment.yaml"
APPROVERS = ["U_ALICE", "U_BOB", "U_CAROL"]


@pytest.fixture
def remote(tmp_path: Path) -> GitOpsRemote:
    return make_remote(tmp_path / "gitops")


def _workflow(store: SqlStore, remote: GitOpsRemote, tmp_path: Path, **policy: object) -> ProposalWorkflow:
    host = PlainGitChangeHost(str(remote.bare), tmp_path / "cache")
    return ProposalWorkflow(store, host, ApprovalPolicy(approvers=APPROVERS, **policy))  # type: ignore[arg-type]


def _opened(wf: ProposalWorkflow, remote: GitOpsRemote, proposal: Proposal | None = None) -> Proposal:
    return wf.open(wf.submit(proposal or scale_proposal(remote.work), requested_by="U_CAROL").id)


def _kinds(store: SqlStore, proposal_id: str) -> list[str]:
    return [e.kind for e in store.audit_trail(proposal_id)]


def _refusals(store: SqlStore, proposal_id: str) -> list[tuple[str, str]]:
    return [
        (e.actor, e.data["refusal"])
        for e in store.audit_trail(proposal_id)
        if e.kind == "proposal.decision_refused"
    ]


def _merges(remote: GitOpsRemote) -> list[str]:
    return git(remote.bare, "rev-list", "--merges", "main").split()


def test_a_foreign_commit_ends_the_proposal_as_tampered_and_nothing_merges(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path)
    proposal = _opened(wf, remote)
    foreign = remote.push_to_branch(proposal.branch or "", "apps/evil.yaml", "kind: Pod\n")

    first = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert not first.accepted and "changed outside Tugboat" in first.message
    assert first.proposal.state is ProposalState.TAMPERED
    assert first.proposal.head_sha == proposal.head_sha  # never re-opened at the pushed head
    second = wf.decide(proposal.id, "U_BOB", Decision.APPROVE)  # approve again: still nothing
    assert not second.accepted and not second.merged

    assert _merges(remote) == [] and "replicas: 3" in remote.show(PATH)
    assert wf.host.head(proposal) is None  # the branch is closed, so nothing can merge it
    [tampered] = [e for e in store.audit_trail(proposal.id) if e.kind == "proposal.tampered"]
    assert tampered.data["expected_head"] == proposal.head_sha and tampered.data["found_head"] == foreign
    assert tampered.data["noticed_by"] == "U_ALICE"
    assert _refusals(store, proposal.id) == [("U_ALICE", "tampered"), ("U_BOB", "not_open")]
    assert verify_trail(store.audit_trail()) == []


def test_an_approval_counts_only_for_the_head_it_was_shown(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path)
    proposal = _opened(wf, remote)
    assert proposal.head_sha
    other = "0" * 40
    refused = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE, shown_head=other)
    assert not refused.accepted and "this button is for commit 000000000000" in refused.message
    unnamed = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE, shown_head="")  # an old button
    assert not unnamed.accepted and "(none)" in unnamed.message
    assert store.approvals(proposal.id) == [] and _merges(remote) == []
    [first, _] = [e for e in store.audit_trail(proposal.id) if e.kind == "proposal.decision_refused"]
    assert first.data["shown_head"] == other and first.data["head_sha"] == proposal.head_sha
    assert wf.decide(proposal.id, "U_ALICE", Decision.APPROVE, shown_head=proposal.head_sha).merged


def test_a_push_between_approval_and_merge_is_caught_at_the_merge(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path, rules=[PolicyRule(namespace="shop", required_approvals=2)])
    proposal = _opened(wf, remote)
    assert not wf.decide(proposal.id, "U_ALICE", Decision.APPROVE).merged  # 1 of 2
    assert store.transition(proposal.id, [ProposalState.OPEN], ProposalState.APPROVED)  # the 2nd
    remote.push_to_branch(proposal.branch or "", PATH, DEPLOYMENT.replace("replicas: 3", "replicas: 0"))
    outcome = wf.merge(proposal.id)
    assert not outcome.merged and outcome.proposal.state is ProposalState.TAMPERED
    assert _merges(remote) == [] and "proposal.tampered" in _kinds(store, proposal.id)


def test_the_merge_is_a_compare_and_swap_on_the_approved_head(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    """The head check passes, then the branch moves before the push: the atomic push refuses."""
    wf = _workflow(store, remote, tmp_path)
    proposal = _opened(wf, remote)
    host = wf.host
    assert isinstance(host, PlainGitChangeHost)
    preview = host.merge_preview

    def preview_then_someone_pushes(p: Proposal, sha: str) -> object:
        versions = preview(p, sha)
        remote.push_to_branch(p.branch or "", "apps/evil.yaml", "kind: Pod\n")
        return versions

    host.merge_preview = preview_then_someone_pushes  # type: ignore[method-assign,assignment]
    outcome = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert not outcome.merged and outcome.proposal.state is ProposalState.TAMPERED
    assert _merges(remote) == [] and remote.show(PATH) == DEPLOYMENT


def test_the_pre_merge_scan_reads_the_files_as_the_merge_leaves_them(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    """Drafted fine; then main gains a CPU request above the proposed limit, in lines of its own
    (so the branch still merges cleanly). The scan before the merge refuses the result."""
    wf = _workflow(store, remote, tmp_path)
    from bot.adapters.manifests.workspace import ManifestRepo

    planned = ManifestRepo(remote.work).plan("checkout", "cpu", 2.0)
    limit = Proposal(
        action=Action.SET_CPU_LIMIT,
        service="checkout",
        namespace="shop",
        changes=planned.changes,
        diff=planned.diff,
    )
    proposal = _opened(wf, remote, limit)
    (remote.work / PATH).write_text(
        DEPLOYMENT.replace(
            "          resources:\n", '          resources:\n            requests:\n              cpu: "3"\n'
        )
    )
    git(remote.work, "commit", "-qam", "reserve more CPU")
    git(remote.work, "push", "-q", "origin", "main")

    outcome = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert not outcome.merged and outcome.proposal.state is ProposalState.FAILED
    assert "cpu limit 2 is below its request 3" in outcome.message
    [scan] = [e for e in store.audit_trail(proposal.id) if e.kind == "proposal.scan_refused"]
    assert scan.data["when"] == "merging" and _merges(remote) == []


def test_a_branch_whose_change_is_not_the_diff_shown_is_tampered(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    """A forged branch that reuses the recorded head sha cannot exist, but the host's clone or the
    record can be wrong: the content check stands on its own."""
    wf = _workflow(store, remote, tmp_path)
    proposal = _opened(wf, remote)
    forged = proposal.model_copy(update={"diff": scale_proposal(remote.work, replicas=9).diff})
    with pytest.raises(Tampered) as caught:
        wf.host.merge_preview(forged, proposal.head_sha or "")
    assert "not the diff that was shown" in str(caught.value)


def test_unknown_proposals_and_non_approvers_are_audited(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    wf = _workflow(store, remote, tmp_path)
    with pytest.raises(InvalidInput, match="no proposal with id"):
        wf.decide("nosuchproposal", "U_ALICE", Decision.APPROVE)
    proposal = _opened(wf, remote)
    assert not wf.decide(proposal.id, "U_MALLORY", Decision.APPROVE).accepted
    assert not wf.decide(proposal.id, "U_CAROL", Decision.REJECT).accepted  # she asked for it
    assert (
        wf.refusal(proposal.id, "U_MALLORY", Decision.REJECT)
        == "<@U_MALLORY> is not an approver for this change"
    )
    assert _refusals(store, "nosuchproposal") == [("U_ALICE", "unknown_proposal")]
    assert _refusals(store, proposal.id) == [
        ("U_MALLORY", "not_approver"),
        ("U_CAROL", "self_approval"),
        ("U_MALLORY", "not_approver"),
    ]
    assert verify_trail(store.audit_trail()) == []


def test_housekeeping_ends_a_proposal_pushed_to_outside_tugboat_before_anyone_clicks(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    from bot.services.housekeeping import housekeeping_spec

    wf = _workflow(store, remote, tmp_path)
    untouched = _opened(wf, remote, limit_proposal(remote.work))  # another field: not replaced
    pushed = _opened(wf, remote)
    foreign = remote.push_to_branch(pushed.branch or "", "apps/evil.yaml", "kind: Pod\n")

    moved = remote.bare.with_name("moved.git")
    remote.bare.rename(moved)  # the change host is unreachable: nothing is decided on no answer
    assert wf.sweep_heads() == []
    moved.rename(remote.bare)
    assert wf.get(pushed.id).state is ProposalState.OPEN

    housekeeping_spec(store, wf, "* * * * *").run(at=wf.clock())

    assert wf.get(pushed.id).state is ProposalState.TAMPERED
    assert wf.get(untouched.id).state is ProposalState.OPEN
    [tampered] = [e for e in store.audit_trail(pushed.id) if e.kind == "proposal.tampered"]
    assert tampered.data["found_head"] == foreign and tampered.data["noticed_by"] == "tugboat"
    assert wf.host.head(pushed) is None  # its branch is closed, so nothing can merge it
    late = wf.decide(pushed.id, "U_ALICE", Decision.APPROVE)
    assert not late.accepted and not late.merged and _merges(remote) == []
    assert wf.decide(untouched.id, "U_ALICE", Decision.APPROVE).merged  # the other one still merges
    assert verify_trail(store.audit_trail()) == []
