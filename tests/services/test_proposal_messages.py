"""A proposal that ends other than by a click on its message: the message loses its buttons, once,
and says how the proposal ended. Real git remote, real Slack client against the recording mock
Web API, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.slack import blocks
from bot.domain.approval import Decision
from bot.domain.policy import ApprovalPolicy
from bot.domain.proposal import ProposalState
from bot.services.proposals import ProposalWorkflow
from testkit.gitops import limit_proposal
from testkit.slack_api import Call
from tests.services.conftest import APPROVERS, CHANNEL, World


def _shown(call: Call) -> str:
    return json.dumps(call.args.get("blocks"))


def test_housekeeping_ends_a_moved_proposal_and_its_message_loses_its_buttons_once(world: World) -> None:
    untouched, untouched_ts = world.posted(drafted=limit_proposal(world.remote.work))
    moved, ts = world.posted(6)
    foreign = world.remote.push_to_branch(moved.branch or "", "apps/evil.yaml", "kind: Pod\n")

    assert world.workflow.sweep_heads() == [moved.id]

    [update] = world.updates(ts)
    assert update.args["channel"] == CHANNEL
    line = f"Not merged: its branch was changed outside Tugboat (its branch now holds {foreign[:12]}"
    assert update.args["text"].startswith(line)
    assert blocks.ACTION_APPROVE not in _shown(update) and line in _shown(update)
    assert "Proposed change:" in _shown(update)  # the same message, less its buttons
    assert "tampered" not in update.args["text"]  # people read words, not state names
    [event] = world.ended_events(moved.id)
    assert event.data["outcome"] == "updated" and event.data["ts"] == ts
    assert world.updates(untouched_ts) == [] and world.ended_events(untouched.id) == []

    world.messages.update_job(moved.id)  # run again (a retried or duplicated job): nothing more
    assert len(world.updates(ts)) == 1 and len(world.ended_events(moved.id)) == 1


def test_a_branch_deleted_outside_tugboat_says_it_was_closed(world: World) -> None:
    from testkit.gitops import git

    posted, ts = world.posted(6)
    git(world.remote.bare, "branch", "-D", posted.branch or "")
    assert world.workflow.sweep_heads() == [posted.id]
    [update] = world.updates(ts)
    assert update.args["text"] == "Not merged: its branch or pull request was closed outside Tugboat"


def test_an_expired_proposal_says_so_and_one_without_a_message_is_skipped(world: World) -> None:
    posted, ts = world.posted(6)
    silent = world.workflow.open(world.workflow.submit(limit_proposal(world.remote.work), "U_CAROL").id)
    assert world.workflow.merges.expire(posted, [ProposalState.OPEN])
    assert world.workflow.merges.expire(silent, [ProposalState.OPEN])

    [update] = world.updates(ts)
    assert update.args["text"] == "Not merged: it expired before enough people approved it"
    assert len(world.api.of("chat.update")) == 1  # the other has no message to update
    assert world.ended_events(silent.id) == []


def test_a_merge_says_merged_with_where_and_the_commit(world: World) -> None:
    posted, ts = world.posted(6)
    outcome = world.workflow.decide(posted.id, "U_ALICE", Decision.APPROVE)
    assert outcome.merged
    merge_sha = world.remote.head()
    [update] = world.updates(ts)
    assert update.args["text"] == f"Merged: `{posted.branch}` at `{merge_sha[:10]}`"


def test_a_rejection_names_who_and_their_reason_as_inert_text(world: World) -> None:
    posted, ts = world.posted(6)
    world.workflow.decide(posted.id, "U_BOB", Decision.REJECT, reason="<!channel> peak is over")
    [update] = world.updates(ts)
    assert update.args["text"].startswith("Not merged: rejected by <@U_BOB>: ")
    assert "peak is over" in update.args["text"] and "<!channel>" not in _shown(update)


@pytest.mark.parametrize("error", ["message_not_found", "channel_not_found"])
def test_a_message_or_channel_that_is_gone_counts_as_done_and_is_audited(world: World, error: str) -> None:
    posted, ts = world.posted(6)
    world.api.fail_next("chat.update", 200, error=error)
    world.workflow.merges.expire(posted, [ProposalState.OPEN])
    assert len(world.api.of("chat.update:failed")) == 1 and world.updates(ts) == []
    [event] = world.ended_events(posted.id)
    assert event.data["outcome"] == "gone"
    world.messages.update_job(posted.id)
    assert len(world.api.of("chat.update:failed")) == 1 and world.slept == []


def test_slack_errors_are_tried_again_a_bounded_number_of_times(world: World) -> None:
    first, first_ts = world.posted(6)
    world.api.fail_next("chat.update", 500, error="internal_error")
    world.api.fail_next("chat.update", 500, error="internal_error")
    world.workflow.merges.expire(first, [ProposalState.OPEN])
    assert len(world.updates(first_ts)) == 1 and world.slept == [2.0, 4.0]
    assert world.ended_events(first.id)[0].data["outcome"] == "updated"

    second, second_ts = world.posted(4)
    world.api.fail_always("chat.update", 500)
    world.workflow.merges.expire(second, [ProposalState.OPEN])
    tried = [c for c in world.api.of("chat.update:failed") if c.args.get("ts") == second_ts]
    assert len(tried) == world.messages.attempts == 4
    [event] = world.ended_events(second.id)
    assert event.data["outcome"].startswith("failed: Slack chat.update failed")
    world.messages.update_job(second.id)  # given up for good: not tried again
    assert len([c for c in world.api.of("chat.update:failed") if c.args.get("ts") == second_ts]) == 4


def test_a_click_that_showed_the_end_on_the_message_leaves_nothing_to_do(world: World) -> None:
    clicked, ts = world.posted(6)
    other, other_ts = world.posted(drafted=limit_proposal(world.remote.work))
    world.messages.shown(clicked.id, CHANNEL, ts)  # the click's handler updated this very message
    world.messages.shown(other.id, CHANNEL, "1.000001")  # a click on some other message of it
    world.workflow.decide(clicked.id, "U_BOB", Decision.REJECT, reason="no")
    world.workflow.decide(other.id, "U_BOB", Decision.REJECT, reason="no")
    assert world.updates(ts) == [] and world.ended_events(clicked.id) == []
    assert len(world.updates(other_ts)) == 1


def test_recording_a_message_replaces_the_earlier_one_and_needs_a_known_proposal(world: World) -> None:
    """And only ended proposals with a message are work left for housekeeping."""
    from bot.domain.errors import InvalidInput
    from bot.ports.store import PostedMessage

    posted, ts = world.posted(6)
    assert world.store.proposal_message(posted.id) == PostedMessage(CHANNEL, ts)
    world.store.set_proposal_message(posted.id, "COTHER", "2.000002")
    assert world.store.proposal_message(posted.id) == PostedMessage("COTHER", "2.000002")
    assert world.store.proposal_message("nosuchproposal") is None
    with pytest.raises(InvalidInput, match="unknown proposal nosuchproposal"):
        world.store.set_proposal_message("nosuchproposal", CHANNEL, ts)
    assert world.store.messaged_proposals([ProposalState.OPEN]) == [posted.id]
    assert world.store.messaged_proposals([ProposalState.EXPIRED]) == []
    world.store.forget_proposal_message(posted.id)
    assert world.store.proposal_message(posted.id) is None
    assert world.store.messaged_proposals([ProposalState.OPEN]) == []


def test_housekeeping_updates_the_message_of_a_proposal_whose_update_was_lost(
    world: World, tmp_path: Path
) -> None:
    from bot.services.housekeeping import housekeeping_spec

    posted, ts = world.posted(6)
    deaf = ProposalWorkflow(  # e.g. the CLI, or a replica that stopped before the job ran
        world.store,
        PlainGitChangeHost(str(world.remote.bare), tmp_path / "cache2"),
        ApprovalPolicy(approvers=APPROVERS),
    )
    assert deaf.merges.expire(posted, [ProposalState.OPEN])
    assert world.updates(ts) == []

    spec = housekeeping_spec(world.store, world.workflow, "* * * * *", world.messages)
    spec.run(at=world.workflow.clock())
    [update] = world.updates(ts)
    assert update.args["text"] == "Not merged: it expired before enough people approved it"
    assert world.store.proposal_message(posted.id) is None  # done: nothing left to resume
    spec.run(at=world.workflow.clock())
    assert len(world.updates(ts)) == 1 and len(world.ended_events(posted.id)) == 1
