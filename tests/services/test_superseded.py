"""A newer proposal for the same manifest field ends the older open one as superseded: once,
audited, its branch closed, its message's buttons gone with a line naming the newer one, and a
click on it refused with the same words. Real git remote, the recording mock Web API, SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.slack import blocks
from bot.domain.approval import Decision
from bot.domain.audit import AuditKind
from bot.domain.policy import ApprovalPolicy
from bot.domain.proposal import ProposalState
from bot.services.proposals import ProposalWorkflow
from testkit.gitops import git, limit_proposal, scale_proposal
from tests.services.conftest import APPROVERS, World


def _kinds(world: World, proposal_id: str, kind: AuditKind) -> list[dict[str, object]]:
    return [e.data for e in world.store.audit_trail(proposal_id) if e.kind == kind.value]


def _state(world: World, proposal_id: str) -> ProposalState:
    found = world.store.get_proposal(proposal_id)
    assert found is not None
    return found.state


def test_a_second_scale_of_the_same_deployment_supersedes_the_first_once(world: World) -> None:
    older, older_ts = world.posted(5)
    newer, newer_ts = world.posted(8)

    assert _state(world, older.id) is ProposalState.SUPERSEDED
    assert _state(world, newer.id) is ProposalState.OPEN
    [superseded] = _kinds(world, older.id, AuditKind.SUPERSEDED)
    assert superseded["by"] == newer.id and superseded["by_url"] == newer.branch
    branches = git(world.remote.bare, "branch", "--list", "tugboat/*")
    assert older.branch not in branches and (newer.branch or "") in branches  # the older one closed

    [update] = world.updates(older_ts)
    line = f"Not merged: replaced by a newer proposal, branch `{newer.branch}` (`{newer.id}`)"
    assert update.args["text"] == line
    shown = json.dumps(update.args["blocks"])
    assert line in shown and blocks.ACTION_APPROVE not in shown and "superseded" not in shown
    assert world.updates(newer_ts) == []

    # Told again (another replica opening the same newer proposal): nothing more happens.
    again = ProposalWorkflow(
        world.store,
        PlainGitChangeHost(str(world.remote.bare), world.remote.bare.parent / "replica2"),
        ApprovalPolicy(approvers=APPROVERS),
    )
    assert again.merges.supersede_older(newer) == []
    assert len(_kinds(world, older.id, AuditKind.SUPERSEDED)) == 1 and len(world.updates(older_ts)) == 1


def test_an_approve_click_on_the_superseded_message_is_refused_naming_the_newer_one(world: World) -> None:
    older, _ = world.posted(5)
    newer, _ = world.posted(8)
    outcome = world.workflow.decide(older.id, "U_ALICE", Decision.APPROVE, shown_head=older.head_sha)
    assert not outcome.accepted and not outcome.merged
    assert outcome.message == (
        f"this change was replaced by a newer proposal, branch `{newer.branch}` (`{newer.id}`); "
        "decide on that one instead"
    )
    [refused] = _kinds(world, older.id, AuditKind.DECISION_REFUSED)
    assert refused["refusal"] == "not_open" and refused["why"] == outcome.message
    assert world.remote.head() == world.remote.head("main")  # nothing merged
    assert _state(world, older.id) is ProposalState.SUPERSEDED


def test_a_proposal_for_another_field_or_already_approved_is_left_alone(world: World) -> None:
    memory, memory_ts = world.posted(drafted=limit_proposal(world.remote.work))
    merging, _ = world.posted(5)
    assert world.store.transition(merging.id, [ProposalState.OPEN], ProposalState.APPROVED)  # merge queued

    newer, _ = world.posted(8)
    assert _state(world, memory.id) is ProposalState.OPEN and world.updates(memory_ts) == []
    assert _state(world, merging.id) is ProposalState.APPROVED  # its merge is not cut short
    assert _state(world, newer.id) is ProposalState.OPEN
    assert _kinds(world, merging.id, AuditKind.SUPERSEDED) == []


def test_two_proposals_opened_at_once_do_not_end_each_other(world: World) -> None:
    """Each replica opening one looks for older ones only: the older is superseded, not both."""
    first = world.workflow.submit(scale_proposal(world.remote.work, 5), requested_by="U_CAROL")
    second = world.workflow.submit(scale_proposal(world.remote.work, 8), requested_by="U_CAROL")
    for drafted in (first, second):  # both pushed and OPEN before either looks (two replicas)
        ref = world.workflow.host.open(drafted)
        world.store.save_proposal(drafted.model_copy(update={"branch": ref.branch, "head_sha": ref.head_sha}))
        assert world.store.transition(drafted.id, [ProposalState.DRAFT], ProposalState.OPEN)
    assert world.workflow.merges.supersede_older(world.workflow.get(first.id)) == []
    assert world.workflow.merges.supersede_older(world.workflow.get(second.id)) == [first.id]
    assert _state(world, second.id) is ProposalState.OPEN


def test_a_proposal_that_ended_before_its_message_was_recorded_loses_its_buttons_at_the_record(
    world: World,
) -> None:
    proposal = world.workflow.open(world.workflow.submit(scale_proposal(world.remote.work, 6), "U_CAROL").id)
    body = world.body(proposal)
    ts = world.messages.chat.post_message("CPROPOSALS", "Proposed change", body)
    assert world.workflow.merges.expire(proposal, [ProposalState.OPEN])  # between the post and the record
    assert world.updates(ts) == []  # nothing recorded yet: the end's update found no message

    world.workflow.posted(proposal.id, "CPROPOSALS", ts, "Proposed change", body)
    [update] = world.updates(ts)
    assert update.args["text"] == "Not merged: it expired before enough people approved it"
    assert blocks.ACTION_APPROVE not in json.dumps(update.args["blocks"])
    assert world.store.proposal_message(proposal.id) is None  # done
    world.workflow.posted(proposal.id, "CPROPOSALS", ts, "Proposed change", body)  # recorded again
    assert len(world.updates(ts)) == 1 and len(world.ended_events(proposal.id)) == 1


def test_the_edit_keeps_what_the_message_said_and_only_drops_the_buttons(world: World) -> None:
    proposal = world.workflow.open(world.workflow.submit(scale_proposal(world.remote.work, 6), "U_CAROL").id)
    finding = "*Capacity:* checkout reaches 92% of its CPU limit by Friday 18:00"
    body = [
        blocks.section(finding),
        blocks.context("requested by <@U_CAROL> · needs approval by someone else"),
        *world.body(proposal),
    ]
    ts = world.messages.chat.post_message("CPROPOSALS", "Capacity: checkout", body)
    world.workflow.posted(proposal.id, "CPROPOSALS", ts, "Capacity: checkout", body)
    world.workflow.decide(proposal.id, "U_BOB", Decision.REJECT, reason="the peak moved")

    [update] = world.updates(ts)
    kept = [b for b in body if b.get("type") != "actions"]
    assert update.args["blocks"][: len(kept)] == kept  # all it said, in order
    assert [b["type"] for b in update.args["blocks"][len(kept) :]] == ["context"]
    assert update.args["blocks"][-1]["elements"][0]["text"] == update.args["text"]
    assert update.args["text"] == "Not merged: rejected by <@U_BOB>: the peak moved"


def test_a_message_recorded_without_what_it_said_is_edited_to_the_proposal(world: World) -> None:
    """Recorded before Tugboat kept the message's text: the edit shows the proposal rebuilt."""
    proposal = world.workflow.open(world.workflow.submit(scale_proposal(world.remote.work, 6), "U_CAROL").id)
    ts = world.messages.chat.post_message("CPROPOSALS", "Proposed change", world.body(proposal))
    world.store.set_proposal_message(proposal.id, "CPROPOSALS", ts)
    assert world.workflow.merges.expire(proposal, [ProposalState.OPEN])
    [update] = world.updates(ts)
    expected = blocks.decision_blocks(proposal, "Not merged: it expired before enough people approved it")
    assert update.args["blocks"] == expected


def test_opening_again_supersedes_what_an_interrupted_first_opening_left_open(world: World) -> None:
    older, _ = world.posted(5)
    newer = world.workflow.submit(scale_proposal(world.remote.work, 8), requested_by="U_CAROL")
    ref = world.workflow.host.open(newer)  # the first opening stopped after the state change
    world.store.save_proposal(newer.model_copy(update={"branch": ref.branch, "head_sha": ref.head_sha}))
    assert world.store.transition(newer.id, [ProposalState.DRAFT], ProposalState.OPEN)
    assert _state(world, older.id) is ProposalState.OPEN

    assert world.workflow.open(newer.id).state is ProposalState.OPEN  # asked again (a replay)
    assert _state(world, older.id) is ProposalState.SUPERSEDED
    assert [d["by"] for d in _kinds(world, older.id, AuditKind.SUPERSEDED)] == [newer.id]


def test_an_older_proposal_not_opened_yet_is_superseded_and_can_no_longer_be_opened(world: World) -> None:
    from bot.domain.errors import ConflictError

    drafted = world.workflow.submit(scale_proposal(world.remote.work, 5), requested_by="U_CAROL")  # host down
    newer, _ = world.posted(8)
    assert _state(world, drafted.id) is ProposalState.SUPERSEDED
    assert [d["by"] for d in _kinds(world, drafted.id, AuditKind.SUPERSEDED)] == [newer.id]
    with pytest.raises(ConflictError, match="replaced by a newer proposal; it cannot be opened"):
        world.workflow.open(drafted.id)
    assert f"tugboat/{drafted.id}" not in git(world.remote.bare, "branch", "--list", "tugboat/*")
