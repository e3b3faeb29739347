"""The proposal life cycle against real git, SQLite and PostgreSQL: merge only after approval."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import verify_trail
from bot.domain.errors import SourceUnavailable, TugboatError
from bot.domain.policy import ApprovalPolicy, PolicyRule
from bot.domain.proposal import Proposal, ProposalState
from bot.ports.chat import ReplyTarget
from bot.ports.jobs import JobArgs, JobQueue
from bot.ports.merges import MergeListener
from bot.services.housekeeping import HOUSEKEEPING, housekeeping_spec
from bot.services.proposals import MERGE, ON_HOST, Outcome, ProposalWorkflow
from testkit.gitops import DEPLOYMENT, GitOpsRemote, limit_proposal, make_remote, scale_proposal

PATH = "apps/checkout/deployment.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def remote(tmp_path: Path) -> GitOpsRemote:
    return make_remote(tmp_path / "gitops")


def _workflow(
    store: SqlStore,
    remote: GitOpsRemote,
    tmp_path: Path,
    clock: Clock | None = None,
    jobs: JobQueue | None = None,
    listeners: Sequence[MergeListener] = (),
    **policy: object,
) -> ProposalWorkflow:
    host = PlainGitChangeHost(str(remote.bare), tmp_path / "cache")
    rules = policy.pop("rules", [])
    approval_policy = ApprovalPolicy(approvers=["U_ALICE", "U_BOB", "U_CAROL"], rules=rules, **policy)
    return ProposalWorkflow(
        store, host, approval_policy, clock=clock or Clock(), jobs=jobs, listeners=listeners
    )


def _opened(wf: ProposalWorkflow, remote: GitOpsRemote, requested_by: str = "U_CAROL") -> Proposal:
    proposal = wf.submit(scale_proposal(remote.work), requested_by=requested_by)
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
        "proposal.decision_refused",  # the late click, and why it did not count
    ]
    assert trail[-1].actor == "U_BOB" and trail[-1].data["refusal"] == "not_open"
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


def test_expired_and_rejected_proposals_never_merge(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    clock = Clock()
    wf = _workflow(store, remote, tmp_path, clock=clock)
    stale = _opened(wf, remote)
    clock.now += timedelta(hours=25)
    outcome = wf.decide(stale.id, "U_ALICE", Decision.APPROVE)
    assert not outcome.accepted and "expired" in outcome.message
    refused = [e for e in store.audit_trail(stale.id) if e.kind == "proposal.decision_refused"]
    assert [(e.actor, e.data["refusal"]) for e in refused] == [("U_ALICE", "expired")]
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


class Deferred:
    """A ``JobQueue`` that only records what was handed to it (the jobs never run)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, JobArgs | None, dict[str, Any]]] = []

    def defer(
        self,
        name: str,
        args: JobArgs | None = None,
        *,
        lock: str | None = None,
        queueing_lock: str | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        self.calls.append((name, args, {"lock": lock, "queueing_lock": queueing_lock, "delay_s": delay_s}))
        return True


class Reported:
    """A ``MergeListener`` handing each queued merge's outcome to ``report``."""

    def __init__(self, report: Callable[[Outcome, ReplyTarget | None], Any]) -> None:
        self.report = report

    def merged(self, proposal: Proposal, merge_sha: str | None) -> None:
        pass

    def merge_finished(self, outcome: Outcome, reply_to: ReplyTarget | None) -> None:
        self.report(outcome, reply_to)


def _approved(wf: ProposalWorkflow, remote: GitOpsRemote) -> Proposal:
    """Approved with a job queue: the merge is queued, not run."""
    proposal = _opened(wf, remote)
    outcome = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE, reply_to=ReplyTarget("C1", ts="1.2"))
    assert outcome.merging and not outcome.merged, outcome.message
    assert outcome.proposal.state is ProposalState.APPROVED
    return outcome.proposal


def _state(store: SqlStore, proposal_id: str) -> ProposalState:
    proposal = store.get_proposal(proposal_id)
    assert proposal is not None
    return proposal.state


def test_housekeeping_expires_resumes_merges_and_forgets_old_keys(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    clock = Clock()
    jobs = Deferred()
    wf = _workflow(store, remote, tmp_path, clock=clock, jobs=jobs)
    stale = wf.open(wf.submit(limit_proposal(remote.work, "memory"), "U_CAROL").id)  # 3 fields:
    approved = _approved(wf, remote)  # its merge job is lost with this process, say
    clock.now += timedelta(hours=25)  # past the 24 h expiry
    fresh = wf.open(wf.submit(limit_proposal(remote.work, "cpu"), "U_CAROL").id)  # none replaced
    assert stale.branch and remote.head(stale.branch) == stale.head_sha
    store.claim_once("slack-event:Ev1")
    jobs.calls.clear()
    spec = housekeeping_spec(store, wf, "* * * * *")
    assert (spec.name, spec.cron) == (HOUSEKEEPING, "* * * * *")

    now = datetime.now(UTC)
    spec.run(at=now)

    assert _state(store, stale.id) is ProposalState.EXPIRED
    assert _state(store, fresh.id) is ProposalState.OPEN
    assert _state(store, approved.id) is ProposalState.APPROVED  # queued, not merged here
    assert [e.kind for e in store.audit_trail(stale.id)][-1] == "proposal.expired"
    close = (
        ON_HOST,
        {"proposal_id": stale.id, "comment": None, "close": "expired"},
        {"lock": f"proposal:{stale.id}", "queueing_lock": None, "delay_s": 0.0},
    )
    merge = (
        MERGE,
        {"proposal_id": approved.id, "context": {}},
        {"lock": f"proposal:{approved.id}", "queueing_lock": f"merge:{approved.id}", "delay_s": 0.0},
    )
    assert jobs.calls == [close, merge]
    assert wf.host.head(stale) == stale.head_sha  # the branch goes when the queued job runs
    wf.on_host_job(**close[1])  # type: ignore[arg-type]
    assert wf.host.head(stale) is None
    assert "replicas: 3" in remote.show(PATH)
    assert store.is_claimed("slack-event:Ev1")  # claimed just now: kept

    spec.run(at=now + timedelta(days=7, minutes=1))  # a week later

    assert not store.is_claimed("slack-event:Ev1")
    assert store.claim_once("slack-event:Ev1")  # forgotten, so claimable again
    assert [e.kind for e in store.audit_trail(stale.id)].count("proposal.expired") == 1
    assert jobs.calls[2:] == [merge]  # still approved: queued again; expired only once
    assert verify_trail(store.audit_trail()) == []


def test_housekeeping_without_a_workflow_still_forgets_old_keys(store: SqlStore) -> None:
    store.claim_once("slack-event:Ev2")
    housekeeping_spec(store, None, "* * * * *").run(at=datetime.now(UTC) + timedelta(days=8))
    assert not store.is_claimed("slack-event:Ev2")


def test_the_merge_job_merges_once_and_reports_once(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    results: list[tuple[Outcome, ReplyTarget | None]] = []
    report = Reported(lambda outcome, where: results.append((outcome, where)))
    jobs = Deferred()
    wf = _workflow(store, remote, tmp_path, jobs=jobs, listeners=[report])
    merges: list[str] = []
    merge = wf.host.merge

    def counted_merge(proposal: Proposal, approved_sha: str) -> Any:
        merges.append(proposal.id)
        return merge(proposal, approved_sha)

    wf.host.merge = counted_merge  # type: ignore[method-assign]
    proposal = _approved(wf, remote)
    [queued] = [args for name, args, _ in jobs.calls if name == MERGE]
    context = json.loads(json.dumps((queued or {})["context"]))  # as stored: JSON naming the target

    wf.merge_job(proposal.id, context)

    assert merges == [proposal.id]
    assert len(results) == 1
    outcome, given = results[0]
    assert outcome.merged and outcome.proposal.state is ProposalState.MERGED
    assert given == ReplyTarget("C1", ts="1.2") == ReplyTarget.from_dict(context)
    assert "replicas: 6" in remote.show(PATH)
    main = remote.head()

    wf.merge_job(proposal.id, context)  # a retry, or a merge resumed by housekeeping
    wf.merge_job(proposal.id)

    assert merges == [proposal.id]  # the host was not asked to merge again
    assert len(results) == 1  # nor was the outcome reported again
    assert remote.head() == main
    assert [e.kind for e in store.audit_trail(proposal.id)].count("proposal.merged") == 1
    assert _state(store, proposal.id) is ProposalState.MERGED


def test_the_merge_job_waits_out_an_unreachable_host_and_tells_the_clicker_once(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    results: list[tuple[Outcome, ReplyTarget | None]] = []
    report = Reported(lambda outcome, where: results.append((outcome, where)))
    wf = _workflow(store, remote, tmp_path, jobs=Deferred(), listeners=[report])
    proposal = _approved(wf, remote)
    merge = wf.host.merge

    def unreachable(proposal: Proposal, approved_sha: str) -> Any:
        raise SourceUnavailable("the git host did not answer")

    wf.host.merge = unreachable  # type: ignore[method-assign]
    for _ in range(3):  # the job's retries
        with pytest.raises(SourceUnavailable):
            wf.merge_job(proposal.id, {"channel": "C1", "ts": "1.2"})
    assert len(results) == 1
    waiting, where = results[0]
    assert not waiting.accepted and "waiting" in waiting.message and where and where.ts == "1.2"
    assert _state(store, proposal.id) is ProposalState.APPROVED  # still to be merged

    wf.host.merge = merge  # type: ignore[method-assign]
    wf.merge_job(proposal.id, {"channel": "C1", "ts": "1.2"})
    assert results[-1][0].merged and _state(store, proposal.id) is ProposalState.MERGED


def test_the_merge_job_fails_the_proposal_on_any_other_error(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    results: list[Outcome] = []
    report = Reported(lambda outcome, context: results.append(outcome))
    wf = _workflow(store, remote, tmp_path, jobs=Deferred(), listeners=[report])
    proposal = _approved(wf, remote)

    def forbidden(proposal: Proposal, approved_sha: str) -> Any:
        raise TugboatError("the token may not push to main")

    wf.host.merge = forbidden  # type: ignore[method-assign]
    wf.merge_job(proposal.id, {"channel": "C1", "ts": "1.2"})  # not raised: nothing to retry

    assert _state(store, proposal.id) is ProposalState.FAILED
    assert [o.message for o in results] == ["merge refused: the token may not push to main"]
    refused = [e for e in store.audit_trail(proposal.id) if e.kind == "proposal.merge_refused"]
    assert [e.data["reason"] for e in refused] == ["the token may not push to main"]


def test_with_a_queue_the_host_hears_of_decisions_through_jobs_in_order(
    store: SqlStore, remote: GitOpsRemote, tmp_path: Path
) -> None:
    """The decision is recorded at once; the comment and the close wait for a reachable host, and
    "approved by" is queued before the merge, under the same lock, so it runs first."""
    jobs = Deferred()
    wf = _workflow(store, remote, tmp_path, jobs=jobs)
    approved = _approved(wf, remote)
    assert [(name, extra["lock"]) for name, _, extra in jobs.calls] == [
        (ON_HOST, f"proposal:{approved.id}"),
        (MERGE, f"proposal:{approved.id}"),
    ]
    assert jobs.calls[0][1] == {
        "proposal_id": approved.id,
        "comment": "Approved in Slack by <@U_ALICE>",
        "close": None,
    }

    rejected = _opened(wf, remote)
    outcome = wf.decide(rejected.id, "U_BOB", Decision.REJECT, "too many replicas")
    assert outcome.accepted and _state(store, rejected.id) is ProposalState.REJECTED
    assert wf.host.head(rejected) == rejected.head_sha  # not closed yet: that is the job's
    name, args, _ = jobs.calls[-1]
    assert name == ON_HOST and args == {
        "proposal_id": rejected.id,
        "comment": "Rejected in Slack by <@U_BOB>: too many replicas",
        "close": "rejected by U_BOB",
    }
    assert args is not None
    wf.on_host_job(**args)
    assert wf.host.head(rejected) is None
