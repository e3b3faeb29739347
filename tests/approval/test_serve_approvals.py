"""Issue 12's attacks against running ``tugboat serve --http`` processes: an approval covers
exactly the change the approver saw. Each test runs on SQLite (one process) and on PostgreSQL
(two replicas, clicks spread over both)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.domain.proposal import ProposalState
from testkit import slack_requests
from tests.approval.conftest import APPROVERS, PRIVILEGED_POD, REQUESTER, Serving
from tests.jobs.test_replicas import wait_until

pytestmark = [pytest.mark.slow]
FIRST, SECOND = APPROVERS


def _refusals(serving: Serving, proposal_id: str) -> list[tuple[str, str]]:
    return [
        (e.actor, e.data["refusal"])
        for e in serving.trail(proposal_id)
        if e.kind == "proposal.decision_refused"
    ]


def _verifies(serving: Serving) -> None:
    checked = serving.audit_verify()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_foreign_commit_ends_the_proposal_as_tampered_with_no_merge(serving: Serving) -> None:
    assert serving.command("limits checkout cpu 2").status_code == 200
    posted = serving.proposal_posted("CPU limit 2 for checkout")
    shown_first = json.dumps([c.args for c in serving.api.of("chat.postMessage")])
    assert len(posted.head) == 40 and f"Approve approves commit `{posted.head[:12]}` only" in shown_first
    branch = f"tugboat/{posted.proposal_id}"
    foreign = serving.repo.push_to_branch(branch, {"apps/debug/pod.yaml": PRIVILEGED_POD})

    serving.click(posted.approve, posted.ts, FIRST, on=0)
    wait_until(lambda: serving.updates(posted.ts), 60, "the proposal message to change", serving.replicas)
    shown = serving.updates(posted.ts)[-1].args
    assert "changed outside Tugboat" in shown["text"] and "tugboat_approve" not in json.dumps(shown["blocks"])
    note = serving.api.wait_for("chat.postMessage", 1, timeout=30, thread_ts=posted.ts)[0]
    assert "changed outside Tugboat" in note.args["text"]  # the thread says so too
    assert "changed outside Tugboat" in serving.wait_ephemeral(FIRST)[0].args["text"]

    serving.click(posted.approve, posted.ts, SECOND, on=1)  # a second, genuine click
    assert "closed because its branch was changed" in serving.wait_ephemeral(SECOND)[0].args["text"]
    serving.settle()
    assert serving.repo.merges() == []
    assert (
        "apps/debug/pod.yaml" in serving.repo.files(foreign)
        and "apps/debug/pod.yaml" not in serving.repo.files()
    )
    assert serving.proposal(posted.proposal_id).state is ProposalState.TAMPERED
    # closed (a queued host job, so waited for): nothing can merge it
    wait_until(lambda: branch not in serving.repo.branches(), 60, "the branch to be closed", serving.replicas)
    [tampered] = [e for e in serving.trail(posted.proposal_id) if e.kind == "proposal.tampered"]
    assert tampered.data["found_head"] == foreign and tampered.data["expected_head"] == posted.head
    assert _refusals(serving, posted.proposal_id) == [(FIRST, "tampered"), (SECOND, "not_open")]
    assert len(serving.api.of("chat.postMessage")) == 2  # the proposal and one thread notice
    _verifies(serving)


def test_approving_twice_after_a_head_move_merges_nothing(serving: Serving) -> None:
    serving.command("limits checkout memory 1Gi")
    posted = serving.proposal_posted("memory limit 1Gi for checkout")
    branch = f"tugboat/{posted.proposal_id}"
    moved = serving.repo.show("apps/checkout/deployment.yaml", ref=posted.head).replace(
        'cpu: "1"', 'cpu: "64"'
    )
    serving.repo.push_to_branch(branch, {"apps/checkout/deployment.yaml": moved})

    with ThreadPoolExecutor(2) as pool:  # both approvers at once, on both replicas
        codes = list(
            pool.map(lambda n: serving.click(posted.approve, posted.ts, APPROVERS[n], on=n)[0], (0, 1))
        )
    assert [c.status_code for c in codes] == [200, 200]
    for user in APPROVERS:
        assert "changed outside Tugboat" in serving.wait_ephemeral(user)[0].args["text"]
    serving.settle()
    assert serving.repo.merges() == [] and 'cpu: "64"' not in serving.repo.show(
        "apps/checkout/deployment.yaml"
    )
    assert serving.proposal(posted.proposal_id).state is ProposalState.TAMPERED
    assert sorted(_refusals(serving, posted.proposal_id))[0][1] in ("tampered", "not_open")
    assert [e.kind for e in serving.trail(posted.proposal_id)].count("proposal.approved") == 0
    assert [e.kind for e in serving.trail(posted.proposal_id)].count("proposal.tampered") == 1
    _verifies(serving)


def test_a_replayed_click_does_nothing(serving: Serving) -> None:
    serving.command("limits checkout cpu 2")
    posted = serving.proposal_posted("CPU limit 2 for checkout")
    _, first = serving.click(posted.approve, posted.ts, FIRST, on=0)
    serving.api.wait_for("chat.postMessage", 1, timeout=60, thread_ts=posted.ts)  # "1 of 2 approvals"
    with ThreadPoolExecutor(3) as pool:  # the same signed bytes again, on every replica
        list(pool.map(lambda n: serving.replica(n).slack(first), range(3)))
    serving.settle()
    assert len(serving.api.of("chat.postMessage")) == 2 and serving.ephemerals(FIRST) == []
    kinds = [e.kind for e in serving.trail(posted.proposal_id)]
    assert kinds.count("proposal.approved") == 1 and "proposal.decision_refused" not in kinds

    _, second = serving.click(posted.approve, posted.ts, SECOND, on=1)
    wait_until(lambda: serving.repo.merges(), 60, "the merge", serving.replicas)
    for n in range(3):
        serving.replica(n).slack(second)  # the merging click, replayed
    serving.settle()
    assert len(serving.repo.merges()) == 1 and 'cpu: "2"' in serving.repo.show(
        "apps/checkout/deployment.yaml"
    )
    kinds = [e.kind for e in serving.trail(posted.proposal_id)]
    assert kinds.count("proposal.approved") == 2 and kinds.count("proposal.merged") == 1
    assert "proposal.decision_refused" not in kinds and serving.ephemerals(SECOND) == []
    assert 'tugboat_slack_requests_total{outcome="duplicate_click"}' in serving.metrics(0) + serving.metrics(
        1
    )
    _verifies(serving)


def test_a_limit_below_its_request_in_a_previously_invalid_file_is_refused(serving: Serving) -> None:
    serving.command("rollback payments", user=REQUESTER)
    [note] = serving.wait_response()
    text = note.args["text"]
    assert "the policy scan refused this change" in text
    assert "memory limit 128Mi is below its request 256Mi" in text
    assert serving.repo.branches() == [] and serving.repo.merges() == []
    [refused] = [e for e in serving.trail() if e.kind == "proposal.scan_refused"]
    assert refused.actor == REQUESTER and refused.data["when"] == "drafting"
    assert any("below its request" in r for r in refused.data["reasons"])
    _verifies(serving)


def test_every_refused_click_is_audited_and_unsigned_requests_are_counted(serving: Serving) -> None:
    serving.command("limits checkout cpu 2", user=FIRST)  # an approver asks for a change
    posted = serving.proposal_posted("CPU limit 2 for checkout")
    other_head = f"{posted.proposal_id}@{'0' * 40}"
    serving.click(posted.approve, posted.ts, "UOUTSIDER", on=0)
    serving.click(posted.approve, posted.ts, FIRST, on=1)  # ...and may not approve it herself
    serving.click(other_head, posted.ts, SECOND, on=0)
    assert "is not an approver" in serving.wait_ephemeral("UOUTSIDER")[0].args["text"]
    assert "someone else must approve it" in serving.wait_ephemeral(FIRST)[0].args["text"]
    assert "this button is for commit 000000000000" in serving.wait_ephemeral(SECOND)[0].args["text"]
    serving.click(f"nosuchproposal@{posted.head}", posted.ts, SECOND, on=1)
    assert "no proposal with id 'nosuchproposal'" in serving.wait_ephemeral(SECOND, 2)[1].args["text"]
    assert sorted(_refusals(serving, posted.proposal_id)) == sorted(
        [("UOUTSIDER", "not_approver"), (FIRST, "self_approval"), (SECOND, "head_mismatch")]
    )
    assert _refusals(serving, "nosuchproposal") == [(SECOND, "unknown_proposal")]
    assert serving.repo.merges() == []

    body, headers = slack_requests.button(  # an approver's click, with a bad or missing signature
        "tugboat_approve", posted.approve, user=FIRST, channel="CINC", message_ts=posted.ts
    )
    stale = {**headers, **slack_requests.sign(body, timestamp=1_000_000_000)}
    forged = {**headers, **slack_requests.sign(body, secret="guessed")}
    for sent in (stale, forged, headers):
        assert (
            requests.post(
                serving.replica(0).url + "/slack/events", data=body, headers=sent, timeout=10
            ).status_code
            == 401
        )
    metrics = serving.metrics(0)
    for reason in ("stale_timestamp", "bad_signature", "unsigned"):
        assert f'tugboat_slack_unauthenticated_requests_total{{reason="{reason}"}} 1.0' in metrics
    assert "proposal.approved" not in [e.kind for e in serving.trail(posted.proposal_id)]
    assert len(_refusals(serving, posted.proposal_id)) == 3  # none of the three reached a handler
    _verifies(serving)
