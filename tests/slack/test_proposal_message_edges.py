"""Superseded proposals and fallback texts through the real Bolt app: signed slash commands and
clicks, the job worker, the recording mock Web API and a real git remote."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bot.adapters.slack import blocks
from bot.domain.audit import AuditKind
from bot.domain.proposal import ProposalState
from testkit.slack_api import Call
from tests.slack.conftest import APPROVER, CHANNEL, Harness

GRACE_S = 3.5  # past the job's wait for a click's own update


def _posted(h: Harness, text: str) -> tuple[str, str]:
    """(proposal id, ts) of the command's proposal message whose fallback text is ``text``."""
    call = next(c for c in h.api.wait_for("chat.postMessage", 1, timeout=30) if c.args["text"] == text)
    ts = next(m["ts"] for m in h.api.channels[CHANNEL] if m["text"] == call.args["text"])
    actions = [b for b in call.args["blocks"] if b.get("type") == "actions"]
    return blocks.button_target(actions[-1]["elements"][0]["value"])[0], ts


def _wait_posts(h: Harness, count: int) -> list[Call]:
    return h.api.wait_for("chat.postMessage", count, timeout=30)


def test_a_second_scale_of_the_same_workload_supersedes_the_first_and_its_approve_is_refused(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory()
    assert h.command("scale checkout 5").status_code == 200
    older, older_ts = _posted(h, "Proposed change: 5 replicas for checkout")
    assert h.command("scale checkout 8").status_code == 200
    _wait_posts(h, 2)
    newer, newer_ts = _posted(h, "Proposed change: 8 replicas for checkout")
    store = h.runtime.deps.store

    update = h.api.wait_for("chat.update", 1, timeout=30, ts=older_ts)[0]
    line = f"Not merged: replaced by a newer proposal, branch `tugboat/{newer}` (`{newer}`)"
    assert update.args["text"] == line
    shown = json.dumps(update.args["blocks"])
    assert blocks.ACTION_APPROVE not in shown and line in shown
    assert "requested by <@UASKER>" in shown  # what the message said is kept; only the buttons go
    time.sleep(GRACE_S)
    assert [c for c in h.api.of("chat.update") if c.args.get("ts") == newer_ts] == []
    assert store.get_proposal(older).state is ProposalState.SUPERSEDED  # type: ignore[union-attr]
    assert store.get_proposal(newer).state is ProposalState.OPEN  # type: ignore[union-attr]
    superseded = [e for e in store.audit_trail(older) if e.kind == AuditKind.SUPERSEDED.value]
    assert [e.data["by"] for e in superseded] == [newer]

    # The old message's Approve, clicked by an approver (e.g. from a notification sent earlier).
    assert h.click(blocks.ACTION_APPROVE, older, user=APPROVER, ts=older_ts).status_code == 200
    refusal = h.api.wait_for("chat.postEphemeral", 1, timeout=30)[0]
    assert refusal.args["user"] == APPROVER
    assert f"replaced by a newer proposal, branch `tugboat/{newer}` (`{newer}`)" in refusal.args["text"]
    assert "decide on that one instead" in refusal.args["text"]
    assert store.get_proposal(older).state is ProposalState.SUPERSEDED  # type: ignore[union-attr]
    assert h.remote.head() == h.remote.head("main")  # nothing merged


def test_a_refusal_quoting_a_bare_domain_shows_it_as_text(harness_factory: Callable[..., Harness]) -> None:
    """Slack links bare domains in a message's fallback text (it is not verbatim, as blocks are)."""
    h = harness_factory()
    assert h.command("scale evil.example 5").status_code == 200
    answer = h.api.wait_for("response_url", 1, timeout=30)[0]
    text = answer.args["text"]
    assert "evil[.]example" in text and "evil.example" not in text


def test_a_rejection_clicked_on_a_command_proposal_keeps_who_asked(
    harness_factory: Callable[..., Harness],
) -> None:
    from testkit import slack_requests as sr

    h = harness_factory()
    assert h.command("scale checkout 5").status_code == 200
    proposal_id, ts = _posted(h, "Proposed change: 5 replicas for checkout")
    h.click(blocks.ACTION_REJECT, proposal_id, user=APPROVER, ts=ts)
    view = h.api.wait_for("views.open", 1, timeout=30)[0].args["view"]
    values = {blocks.REASON_BLOCK: {blocks.REASON_INPUT: {"type": "plain_text_input", "value": "not now"}}}
    h.slack(sr.view_submission(blocks.CALLBACK_REJECT, view["private_metadata"], values, user=APPROVER))
    update = h.api.wait_for("chat.update", 1, timeout=30, ts=ts)[0]
    shown = json.dumps(update.args["blocks"])
    assert f"Rejected by <@{APPROVER}>" in shown and "requested by <@UASKER>" in shown
    assert blocks.ACTION_APPROVE not in shown
