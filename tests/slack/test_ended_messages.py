"""A proposal's Slack message once the proposal ends without a click on it: the real Bolt app and
job worker, the recording mock Web API and a real git remote. Housekeeping runs every second."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bot.adapters.slack import blocks
from bot.domain.proposal import ProposalState
from bot.ports.store import PostedMessage
from bot.settings import ApprovalPolicy
from testkit import slack_requests as sr
from testkit.slack_api import Call
from tests.slack.conftest import APPROVER, CHANNEL, Harness, alert_payload

EVERY_SECOND = "* * * * * */1"
GRACE_S = 3.5  # past the job's wait for a click's own update, and a housekeeping run more


def _updates(h: Harness, ts: str) -> list[Call]:
    return [c for c in h.api.of("chat.update") if c.args.get("ts") == ts]


def _recorded(h: Harness, proposal_id: str, timeout: float = 10.0) -> PostedMessage:
    """The message recorded for the proposal, once its poster (just after the post) recorded it."""
    deadline = time.monotonic() + timeout
    while (found := h.runtime.deps.store.proposal_message(proposal_id)) is None:
        assert time.monotonic() < deadline, f"no message recorded for {proposal_id}"
        time.sleep(0.05)
    return found


def _ended_events(h: Harness, proposal_id: str) -> list[str]:
    trail = h.runtime.deps.store.audit_trail(proposal_id)
    return [e.data["outcome"] for e in trail if e.kind == "proposal.message_ended"]


def test_a_branch_moved_outside_tugboat_ends_the_proposal_and_its_message_says_so(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(auto_draft=True, housekeeping_cron=EVERY_SECOND)
    h.alert(alert_payload())
    proposal_id, ts, _thread = h.proposal_message()
    assert _recorded(h, proposal_id) == PostedMessage(CHANNEL, ts)

    h.remote.push_to_branch(f"tugboat/{proposal_id}", "apps/evil.yaml", "kind: Pod\n")
    update = h.api.wait_for("chat.update", 1, timeout=30, ts=ts)[0]
    assert update.args["text"].startswith("Not merged: its branch was changed outside Tugboat")
    shown = json.dumps(update.args["blocks"])
    assert blocks.ACTION_APPROVE not in shown and blocks.ACTION_REJECT not in shown
    assert "Not merged: its branch was changed outside Tugboat" in shown
    h.settle(GRACE_S)
    assert len(_updates(h, ts)) == 1 and _ended_events(h, proposal_id) == ["updated"]
    assert h.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.TAMPERED  # type: ignore[union-attr]


def test_a_slash_command_proposal_that_expires_loses_its_buttons(
    harness_factory: Callable[..., Harness],
) -> None:
    policy = ApprovalPolicy(approvers=[APPROVER], expiry_hours=0.0006)  # about 2 s
    h = harness_factory(housekeeping_cron=EVERY_SECOND, policy=policy)
    assert h.command("scale checkout 5").status_code == 200
    posted = h.api.wait_for("chat.postMessage", 1, timeout=30)[0]
    ts = next(m["ts"] for m in h.api.channels[CHANNEL] if m["text"] == posted.args["text"])
    proposal_id = h.runtime.deps.store.list_proposals()[0].id
    assert _recorded(h, proposal_id) == PostedMessage(CHANNEL, ts)

    update = h.api.wait_for("chat.update", 1, timeout=30, ts=ts)[0]
    assert update.args["text"] == "Not merged: it expired before enough people approved it"
    assert blocks.ACTION_APPROVE not in json.dumps(update.args["blocks"])
    h.settle(GRACE_S)
    assert len(_updates(h, ts)) == 1 and _ended_events(h, proposal_id) == ["updated"]


def test_a_rejection_clicked_on_the_message_updates_it_once(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(auto_draft=True)
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    h.click(blocks.ACTION_REJECT, proposal_id, user=APPROVER, ts=ts, thread=thread)
    view = h.api.wait_for("views.open")[0].args["view"]
    values = {blocks.REASON_BLOCK: {blocks.REASON_INPUT: {"type": "plain_text_input", "value": "not now"}}}
    h.slack(sr.view_submission(blocks.CALLBACK_REJECT, view["private_metadata"], values, user=APPROVER))
    update = h.api.wait_for("chat.update", 1, timeout=30, ts=ts)[0]
    assert f"Rejected by <@{APPROVER}>" in json.dumps(update.args["blocks"])
    time.sleep(GRACE_S)
    assert len(_updates(h, ts)) == 1  # the click said it; the end's own update had nothing to add
    assert _ended_events(h, proposal_id) == []


def test_the_draft_button_gives_its_message_the_buttons_and_records_it(harness: Harness) -> None:
    harness.alert(alert_payload())
    proposal_id, ts, thread = harness.proposal_message()
    assert harness.runtime.deps.store.proposal_message(proposal_id) is None  # a Draft PR button only
    harness.click(blocks.ACTION_DRAFT, proposal_id, user="UASKER", ts=ts, thread=thread)
    harness.api.wait_for("chat.update", 1, ts=ts)
    assert _recorded(harness, proposal_id) == PostedMessage(CHANNEL, ts)
