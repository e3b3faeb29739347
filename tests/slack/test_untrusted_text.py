"""Untrusted text (alert annotations and labels, log lines, model output) cannot ping anyone or
pose as a link in Slack, and the model's words are labelled as the model's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from bot.adapters.slack import blocks
from bot.domain.report import CauseKind, Evidence, InvestigationReport, LLMUsage, RootCause
from bot.security.inert import inert_mrkdwn
from tests.slack.conftest import Harness, alert_payload

HOSTILE = (
    "ping <!channel> <!here> <@U0BOSS> <#C0SEC> <!subteam^S1> "
    "<https://evil.example/x|Approve> https://evil.example www.evil.example"
)
CONTROL = (
    "<!channel>",
    "<!here>",
    "<@U0BOSS>",
    "<#C0SEC>",
    "<!subteam^S1>",
    "<https://",
    "https://evil",
    "www.evil",
)


def _clean(text: str) -> None:
    for marker in CONTROL:
        assert marker not in text, (marker, text)


def test_inert_text_keeps_its_words_and_loses_its_power() -> None:
    text = inert_mrkdwn(HOSTILE + " token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 & more")
    _clean(text)
    assert "&lt;!channel&gt;" in text and "https[:]//evil.example" in text and "www[.]evil" in text
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text  # redacted before defanging
    assert "&amp; more" in text


def test_log_lines_and_model_text_in_an_investigation_are_inert_and_labelled() -> None:
    report = InvestigationReport(
        alert_name="HighLatency",
        service="checkout",
        at=datetime(2026, 12, 1, tzinfo=UTC),
        summary=f"The model says: {HOSTILE}",
        root_causes=[
            RootCause(
                kind=CauseKind.BAD_DEPLOY,
                service="checkout",
                confidence=0.9,
                evidence=[Evidence(id="E1", source="logs", observation=f"log line: {HOSTILE}")],
            )
        ],
        llm=LLMUsage(model="gpt-x", calls=1),
    )
    shown = json.dumps(blocks.investigation(report))
    _clean(shown)
    assert "Written by the language model (gpt-x)" in shown
    deterministic = json.dumps(blocks.investigation(report.model_copy(update={"llm": None})))
    assert "language model" not in deterministic


def test_an_alert_annotation_cannot_ping_the_channel(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory()
    payload = alert_payload()
    payload["commonAnnotations"]["summary"] = HOSTILE
    for alert in payload["alerts"]:
        alert["annotations"]["summary"] = HOSTILE
        alert["labels"]["pod"] = "checkout-<!channel>"
    assert h.alert(payload).status_code == 200
    parent = h.api.wait_for("chat.postMessage")[0]
    shown = json.dumps([parent.args.get("text"), parent.args.get("blocks")])
    _clean(shown)
    assert "&lt;!channel&gt;" in shown  # still readable, as data
    texts = list(_mrkdwn_objects(parent.args.get("blocks")))
    assert texts and all(t.get("verbatim") is True for t in texts), "Slack would link bare domains"


def _mrkdwn_objects(node: object) -> Iterator[dict[str, object]]:
    """Every mrkdwn text object in a message's blocks, however deep."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node
        for value in node.values():
            yield from _mrkdwn_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_objects(item)


def test_a_commit_subject_quoted_in_a_proposal_title_is_inert() -> None:
    from bot.domain.proposal import Action, Proposal

    revert = Proposal(
        action=Action.REVERT,
        service="checkout",
        title=f"revert 1a2b3c4d ({HOSTILE}) for checkout",
        diff="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        head_sha="f" * 40,
        branch="tugboat/p1",
    )
    shown = json.dumps([*blocks.proposal_blocks(revert, with_buttons=True), blocks.shown_title(revert)])
    _clean(shown)
    assert "revert 1a2b3c4d (ping &lt;!channel&gt;" in shown


def test_fallback_text_shows_bare_domains_as_text_and_keeps_tugboats_own_markup() -> None:
    """A message's ``text`` is not verbatim: Slack would link ``evil.example`` there."""
    from bot.security.inert import unlinked

    quoted = inert_mrkdwn(f"{HOSTILE} mail ops@evil.example or see status.evil.example/x.")
    own = "Rejected by <@U1> (<https://github.com/o/r/pull/3|PR 3>): "
    text = unlinked(own + quoted)
    assert text.startswith(own)  # Tugboat's own mention and link stay what they are
    _clean(text.removeprefix(own))
    for bare in ("evil.example", "status.evil"):
        assert bare not in text, bare
    assert "ops@evil[.]example" in text and "status[.]evil[.]example/x." in text
    assert "https[:]//evil[.]example" in text and "www[.]evil[.]example" in text
    # Words that only look dotted stay as they are; defanging twice changes nothing more.
    plain = "scaled to 1.5 cores in apps/checkout/deployment.yaml, e.g. v1.2.3, 99.9% of 0.95"
    assert unlinked(plain) == plain and unlinked(text) == text


def test_an_alert_title_with_a_domain_is_text_in_the_notification(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory()
    payload = alert_payload(group_key='{}:{alertname="Phish"}')
    payload["groupLabels"]["alertname"] = "Login at evil.example"
    for alert in payload["alerts"]:
        alert["labels"]["alertname"] = "Login at evil.example"
    payload["commonLabels"]["alertname"] = "Login at evil.example"
    assert h.alert(payload).status_code == 200
    parent = h.api.wait_for("chat.postMessage")[0]
    assert "evil[.]example" in parent.args["text"] and "evil.example" not in parent.args["text"]
