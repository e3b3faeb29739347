"""The real Bolt app behind uvicorn, driven by requests signed as Slack signs them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bot.adapters.slack import blocks
from bot.domain.proposal import ProposalState
from testkit import slack_requests as sr
from tests.slack.conftest import APPROVER, CHANNEL, Harness, alert_payload


def test_forged_and_stale_signatures_are_refused_and_do_nothing(harness: Harness) -> None:
    body, headers = sr.command("scale checkout 5", user="UASKER")
    forged = {**headers, **sr.sign(body, secret="not-the-secret")}
    assert harness.post("/slack/events", body, forged, sign=False).status_code == 401
    stale = {**headers, **sr.sign(body, timestamp=int(time.time()) - 6 * 60)}
    assert harness.post("/slack/events", body, stale, sign=False).status_code == 401
    tampered = {**headers, **sr.sign(body)}
    assert harness.post("/slack/events", body.replace(b"5", b"9"), tampered, sign=False).status_code == 401
    time.sleep(0.5)
    assert harness.api.of("chat.postMessage") == [] and harness.api.of("chat.postEphemeral") == []
    assert harness.runtime.deps.store.list_proposals() == []


def test_draft_button_then_approve_by_an_approver_merges_on_the_remote(harness: Harness) -> None:
    harness.alert(alert_payload())
    proposal_id, ts, thread = harness.proposal_message()
    harness.click(blocks.ACTION_DRAFT, proposal_id, user="UASKER", ts=ts, thread=thread)
    drafted = harness.api.wait_for("chat.update")[0]
    assert blocks.ACTION_APPROVE in json.dumps(drafted.args["blocks"])
    assert harness.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.OPEN  # type: ignore[union-attr]
    harness.click(blocks.ACTION_DRAFT, proposal_id, user="UOTHER", ts=ts, thread=thread)
    assert "already open" in harness.api.wait_for("chat.postEphemeral")[0].args["text"]
    harness.click(blocks.ACTION_APPROVE, proposal_id, user=APPROVER, ts=ts, thread=thread)
    decided = harness.api.wait_for("chat.update", 2)[1]
    text = json.dumps(decided.args["blocks"])
    assert f"Approved by <@{APPROVER}>" in text and blocks.ACTION_APPROVE not in text
    assert harness.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.MERGED  # type: ignore[union-attr]
    assert "replicas: 6" in harness.remote.show("apps/checkout/deployment.yaml")
    # the trail runs from the alert to the merge, and its chain verifies
    from bot.domain.audit import verify_trail

    events = harness.runtime.deps.store.audit_trail()
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["alert.received", "investigation.completed"]
    assert kinds[-4:] == ["proposal.created", "proposal.opened", "proposal.approved", "proposal.merged"]
    assert verify_trail(events) == []


def test_auto_drafted_proposal_non_approver_refused_approver_merges(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(auto_draft=True)
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    assert h.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.OPEN  # type: ignore[union-attr]
    h.click(blocks.ACTION_APPROVE, proposal_id, user="UINTRUDER", ts=ts, thread=thread)
    refusal = h.api.wait_for("chat.postEphemeral")[0]
    assert "is not an approver" in refusal.args["text"] and refusal.args["thread_ts"] == thread
    assert "replicas: 3" in h.remote.show("apps/checkout/deployment.yaml")
    h.click(blocks.ACTION_APPROVE, proposal_id, user=APPROVER, ts=ts, thread=thread)
    h.api.wait_for("chat.update")
    assert "replicas: 6" in h.remote.show("apps/checkout/deployment.yaml")
    h.click(blocks.ACTION_APPROVE, proposal_id, user=APPROVER, ts=ts, thread=thread)
    again = h.api.wait_for("chat.postEphemeral", 2)[1]
    assert "this change is merged" in again.args["text"]
    trail = [(e.kind, e.actor) for e in h.runtime.deps.store.audit_trail(proposal_id)]
    assert trail == [
        ("proposal.created", "tugboat"),
        ("proposal.opened", "tugboat"),
        ("proposal.decision_refused", "UINTRUDER"),
        ("proposal.approved", APPROVER),
        ("proposal.merged", "tugboat"),
        ("proposal.decision_refused", APPROVER),
    ]


def test_reject_opens_a_modal_and_the_submission_rejects_with_the_reason(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(auto_draft=True)
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    r = h.click(blocks.ACTION_REJECT, proposal_id, user=APPROVER, ts=ts, thread=thread)
    assert r.status_code == 200
    view = h.api.wait_for("views.open")[0].args["view"]
    assert view["callback_id"] == blocks.CALLBACK_REJECT
    values = {
        blocks.REASON_BLOCK: {blocks.REASON_INPUT: {"type": "plain_text_input", "value": "peak is over"}}
    }
    r = h.slack(sr.view_submission(blocks.CALLBACK_REJECT, view["private_metadata"], values, user=APPROVER))
    assert r.status_code == 200
    update = h.api.wait_for("chat.update")[0]
    assert update.args["ts"] == ts and "reason: peak is over" in json.dumps(update.args["blocks"])
    assert h.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.REJECTED  # type: ignore[union-attr]


def test_reject_by_a_non_approver_is_refused_without_a_modal(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(auto_draft=True)
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    h.click(blocks.ACTION_REJECT, proposal_id, user="UINTRUDER", ts=ts, thread=thread)
    assert "is not an approver" in h.api.wait_for("chat.postEphemeral")[0].args["text"]
    assert h.api.of("views.open") == []


def test_mention_in_an_incident_thread_is_answered_once_despite_retries(harness: Harness) -> None:
    harness.alert(alert_payload())
    harness.proposal_message()  # the thread is complete: parent, investigation, proposal
    thread = harness.runtime.deps.store.get_incident(alert_payload()["groupKey"]).thread_ts  # type: ignore[union-attr]
    before = len(harness.api.of("chat.postMessage"))
    mention = sr.app_mention(
        "<@UTUGBOAT> why is checkout slow?",
        user="UASKER",
        channel=CHANNEL,
        ts="1800000000.1",
        thread_ts=thread,
        event_id="EvQ1",
    )
    assert harness.slack(mention).status_code == 200
    body, headers = mention
    retry = harness.post(
        "/slack/events", body, {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retry.status_code == 200
    answer = harness.api.wait_for("chat.postMessage", before + 1)[before]
    assert answer.args["thread_ts"] == thread and "traffic surge" in answer.args["text"].lower()
    assert harness.api.wait_for("conversations.replies")[0].args["ts"] == thread
    time.sleep(1.0)
    assert len(harness.api.of("chat.postMessage")) == before + 1
    calls = [e for e in harness.runtime.deps.store.audit_trail() if e.kind == "model.call"]
    assert (
        len(calls) == 1 and calls[0].data["thread_id"] == f"{CHANNEL}:{thread}" and calls[0].data["fallback"]
    )


def test_two_approvals_needed_first_is_announced_second_merges(
    harness_factory: Callable[..., Harness],
) -> None:
    from bot.settings import ApprovalPolicy

    policy = ApprovalPolicy(approvers=[APPROVER, "USECOND"], required_approvals=2)
    h = harness_factory(auto_draft=True, policy=policy)
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    h.click(blocks.ACTION_APPROVE, proposal_id, user=APPROVER, ts=ts, thread=thread)
    note = h.api.wait_for(
        "chat.postMessage", thread_ts=thread, text=f"approved by <@{APPROVER}> (1 of 2 approvals)"
    )
    assert note and "replicas: 3" in h.remote.show("apps/checkout/deployment.yaml")
    h.click(blocks.ACTION_APPROVE, proposal_id, user="USECOND", ts=ts, thread=thread)
    decided = h.api.wait_for("chat.update")[0]
    assert "Approved by <@USECOND>" in json.dumps(decided.args["blocks"])
    assert "replicas: 6" in h.remote.show("apps/checkout/deployment.yaml")


def test_url_verification_challenge_is_answered(harness: Harness) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"}).encode()
    r = harness.post("/slack/events", body, {"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"challenge": "c-123"}


def test_forged_approve_click_merges_nothing(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(auto_draft=True)
    h.alert(alert_payload())
    proposal_id, ts, _ = h.proposal_message()
    body, headers = sr.button(
        blocks.ACTION_APPROVE, proposal_id, user=APPROVER, channel=CHANNEL, message_ts=ts
    )
    forged = {**headers, **sr.sign(body, secret="guessed")}
    assert h.post("/slack/events", body, forged, sign=False).status_code == 401
    time.sleep(1.0)
    assert h.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.OPEN  # type: ignore[union-attr]
    assert "replicas: 3" in h.remote.show("apps/checkout/deployment.yaml")
    assert h.api.of("chat.update") == []


def test_member_of_an_approver_group_may_approve(harness_factory: Callable[..., Harness]) -> None:
    from bot.settings import ApprovalPolicy

    h = harness_factory(auto_draft=True, policy=ApprovalPolicy(approver_groups=["SONCALL"]))
    h.api.group_members["SONCALL"] = ["UGROUPIE"]
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    h.click(blocks.ACTION_APPROVE, proposal_id, user="UGROUPIE", ts=ts, thread=thread)
    h.api.wait_for("chat.update")
    assert h.api.of("usergroups.users.list")[0].args["usergroup"] == "SONCALL"
    assert "replicas: 6" in h.remote.show("apps/checkout/deployment.yaml")


def test_expired_proposal_is_refused_and_its_buttons_go(harness_factory: Callable[..., Harness]) -> None:
    from bot.settings import ApprovalPolicy

    h = harness_factory(auto_draft=True, policy=ApprovalPolicy(approvers=[APPROVER], expiry_hours=0.0003))
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    time.sleep(1.5)  # past the 1.08 s expiry
    h.click(blocks.ACTION_APPROVE, proposal_id, user=APPROVER, ts=ts, thread=thread)
    assert "expired" in h.api.wait_for("chat.postEphemeral")[0].args["text"]
    update = h.api.wait_for("chat.update")[0]
    assert update.args["ts"] == ts and blocks.ACTION_APPROVE not in json.dumps(update.args["blocks"])
    assert h.runtime.deps.store.get_proposal(proposal_id).state is ProposalState.EXPIRED  # type: ignore[union-attr]
    assert "replicas: 3" in h.remote.show("apps/checkout/deployment.yaml")


def test_double_click_and_replayed_click_merge_exactly_once(harness_factory: Callable[..., Harness]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    h = harness_factory(auto_draft=True)
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    value = h.button_value(blocks.ACTION_APPROVE, proposal_id)
    body, headers = sr.button(
        blocks.ACTION_APPROVE, value, user=APPROVER, channel=CHANNEL, message_ts=ts, thread_ts=thread
    )
    signed = {**headers, **sr.sign(body)}
    # a double click and a captured request replayed within Slack's window: the same bytes, 4 times
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(lambda _: h.post("/slack/events", body, signed, sign=False).status_code, range(4))
        )
    assert codes == [200] * 4
    h.api.wait_for("chat.update")
    h.settle(1.0)
    merges = [e for e in h.runtime.deps.store.audit_trail(proposal_id) if e.kind == "proposal.merged"]
    assert len(merges) == 1
    assert "replicas: 6" in h.remote.show("apps/checkout/deployment.yaml")
    # the same click replayed after Slack's 5-minute window is refused outright
    stale = {**headers, **sr.sign(body, timestamp=int(time.time()) - 6 * 60)}
    assert h.post("/slack/events", body, stale, sign=False).status_code == 401
