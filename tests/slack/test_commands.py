"""``/tugboat`` slash commands through the real Bolt app, signed as Slack signs them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.slack import blocks
from bot.domain.proposal import ProposalState
from testkit import slack_requests as sr
from tests.slack.conftest import APPROVER, CHANNEL, Harness


def test_help_and_usage_errors_are_ephemeral_acks(harness: Harness) -> None:
    r = harness.command("help")
    assert r.status_code == 200 and "investigate <service|alertname>" in r.json()["text"]
    r = harness.command("scale checkout lots")
    assert "replicas must be a whole number" in r.json()["text"]
    r = harness.command("limits checkout disk 1Gi")
    assert "say `cpu` or `memory`" in r.json()["text"]
    r = harness.command("limits checkout memory 1Gb")
    assert "not a Kubernetes quantity" in r.json()["text"]
    r = harness.command('investigate "unbalanced')
    assert "cannot read the arguments" in r.json()["text"]
    r = harness.command("rightsize checkout shop extra")
    assert "usage: `/tugboat rightsize <workload> [namespace]`" in r.json()["text"]
    assert r.json().get("response_type") == "ephemeral"
    time.sleep(0.5)
    assert harness.api.of("chat.postMessage") == []


def test_scale_command_opens_a_proposal_that_the_requester_cannot_approve(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory()
    r = h.command("scale checkout 5", user=APPROVER)
    assert r.status_code == 200 and "Working on" in r.json()["text"]
    posted = h.api.wait_for("chat.postMessage", channel=CHANNEL)[0]
    proposal = h.runtime.deps.store.list_proposals()[0]
    assert proposal.state is ProposalState.OPEN and proposal.requested_by == APPROVER
    assert proposal.changes[0].to == 5 and "replicas: 5" in proposal.diff
    assert "tugboat_approve" in json.dumps(posted.args["blocks"])
    h.slack(sr.button(blocks.ACTION_APPROVE, proposal.id, user=APPROVER, channel=CHANNEL, message_ts="1.1"))
    refusal = h.api.wait_for("chat.postEphemeral")[0]
    assert "someone else must approve" in refusal.args["text"] and refusal.args["user"] == APPROVER
    assert h.runtime.deps.store.get_proposal(proposal.id).state is ProposalState.OPEN  # type: ignore[union-attr]
    assert "replicas: 3" in h.remote.show("apps/checkout/deployment.yaml")


def test_limits_and_status_commands(harness: Harness) -> None:
    harness.command("limits checkout memory 1Gi", user="UASKER")
    harness.api.wait_for("chat.postMessage", channel=CHANNEL)
    proposal = harness.runtime.deps.store.list_proposals()[0]
    assert proposal.changes[0].to == 1024**3 and "memory: 1Gi" in proposal.diff
    harness.command("status", user="UASKER")
    status = harness.api.wait_for("response_url")[0]  # the command's own URL, not chat.postEphemeral
    assert status.args["response_type"] == "ephemeral" and status.args["replace_original"] is False
    assert "0 of 1 approval(s): nobody yet" in json.dumps(status.args["blocks"])
    assert "requested by <@UASKER>" in json.dumps(status.args["blocks"])
    assert f"Approvers: <@{APPROVER}>" in json.dumps(status.args["blocks"])


def test_rollback_reverts_the_newest_commit_touching_the_workload(harness: Harness) -> None:
    from testkit.gitops import git

    path = harness.remote.work / "apps/checkout/deployment.yaml"
    path.write_text(path.read_text().replace("checkout:1.4.2", "checkout:1.5.0"))
    git(harness.remote.work, "commit", "-qam", "checkout 1.5.0")
    git(harness.remote.work, "push", "-q", "origin", "main")
    harness.command("rollback checkout", user="UASKER")
    harness.api.wait_for("chat.postMessage", channel=CHANNEL)
    proposal = harness.runtime.deps.store.list_proposals()[0]
    assert proposal.action.value == "revert" and proposal.commit == git(
        harness.remote.work, "rev-parse", "HEAD"
    )
    assert "-          image: registry.example.com/shop/checkout:1.5.0" in proposal.diff


def test_unknown_workload_is_an_ephemeral_error(harness: Harness) -> None:
    harness.command("scale nosuch 3", user="UASKER")
    note = harness.api.wait_for("response_url")[0]
    assert "no workload named 'nosuch'" in note.args["text"]
    assert harness.api.of("chat.postMessage") == [] and harness.api.of("chat.postEphemeral") == []


def test_investigate_command_opens_a_thread_of_its_own(harness: Harness) -> None:
    r = harness.command("investigate checkout shop", user="UASKER")
    assert r.status_code == 200
    parent = harness.api.wait_for("chat.postMessage", channel=CHANNEL)[0]
    assert "requested by <@UASKER>" in json.dumps(parent.args["blocks"])
    harness.api.wait_for("files.completeUploadExternal")
    harness.command("explain", user="UASKER")
    explained = harness.api.wait_for("chat.postMessage", 4)[3]
    assert explained.args.get("thread_ts") and "traffic surge" in explained.args["text"].lower()


def test_forecast_and_rightsize_go_to_the_capacity_services(harness: Harness) -> None:
    for verb in ("forecast", "rightsize"):
        r = harness.command(f"{verb} checkout shop", user="UASKER")
        assert r.status_code == 200 and "Working on" in r.json()["text"]
    notes = harness.api.wait_for("response_url", 2)
    assert all("no Prometheus configured" in n.args["text"] for n in notes)  # the harness has none


@pytest.mark.prometheus
def test_rightsize_in_slack_with_a_real_prometheus(
    harness_factory: Callable[..., Harness], tmp_path: Path, prometheus_binaries: None
) -> None:
    from datetime import UTC, datetime

    from testkit.promserver import running_prometheus
    from tests.capacity.synth import DAY, START, Cluster, MiB, Workload

    at = START + 2 * DAY
    usage = Workload("checkout", lambda t: 0.2, memory=lambda a: 100 * MiB, memory_limit=512 * MiB)
    om = Cluster(START, at, [usage]).build().write(tmp_path / "metrics.om")
    with running_prometheus(om) as url:
        h = harness_factory(prometheus_url=url, clock=lambda: datetime.fromtimestamp(at, UTC))
        h.command("rightsize checkout shop", user="UASKER")
        answer = h.api.wait_for("chat.postMessage", channel=CHANNEL, timeout=60)[0]
    text = answer.args["text"]
    assert text.startswith("*checkout: CPU request unset → 70m") and "+            requests:" in text
    assert "asked by <@UASKER>" in json.dumps(answer.args["blocks"])
    assert h.api.of("chat.postEphemeral") == [] and h.api.of("response_url") == []


def test_answers_in_slack_never_show_a_server_path(harness: Harness, tmp_path: Path) -> None:
    """An unknown workload and an unreachable repository are told in words, with the
    repository's name, never where it or Tugboat's clone lives on the server."""
    harness.command("scale recommendations 3", user="UASKER")
    unknown = harness.api.wait_for("response_url")[0].args["text"]
    assert "no workload named 'recommendations' in the GitOps repository" in unknown
    assert "checkout" in unknown  # the workloads it does have
    moved = harness.remote.bare.with_name("moved.git")
    harness.remote.bare.rename(moved)  # the remote is gone (a mount lost, a URL changed)
    harness.command("scale checkout 4", user="UASKER")
    gone = harness.api.wait_for("response_url", 2)[1].args["text"]
    assert "remote.git" in gone, gone
    said = json.dumps([c.args for c in harness.api.calls if c.method != "upload"])
    assert str(tmp_path) not in said and "/tmp/" not in said


def test_a_command_delivered_twice_acts_once_and_the_journal_ends_empty(harness: Harness) -> None:
    """The same invocation (one ``trigger_id``) twice, as a replay inside the signature window or
    a second replica would see it: one reply. Each request is marked done in the journal once its
    lazy work is over, so nothing stays there to be replayed."""
    journal = harness.runtime.journal
    assert journal is not None
    for _ in range(2):
        assert harness.command("status", trigger_id="1700000000.7.same").status_code == 200
    harness.command("status", user="UOTHER")
    deadline = time.monotonic() + 20
    while journal.at_work and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal.at_work == 0
    replies = harness.api.of("response_url")
    assert len(replies) == 2  # the repeated invocation once, the other asker once
    assert list(journal.path.parent.iterdir()) == [journal.path]


def test_an_investigation_asked_for_twice_by_one_replayed_command_is_stored_once(harness: Harness) -> None:
    """A replay acting in place of an attempt cut short (``once.delivery_context``) after it had stored the
    request: the group and the inbox item are named by the invocation, so nothing is doubled."""
    from urllib.parse import parse_qsl

    from sqlalchemy import func, select

    from bot.adapters.slack.listeners import commands
    from bot.adapters.slack.listeners.once import delivery_context
    from bot.adapters.store.schema import AlertInboxRow

    body, _ = sr.command("investigate checkout", response_url=harness.api.response_url)
    command = dict(parse_qsl(body.decode()))
    for context in (delivery_context("p1-a:1"), delivery_context("p1-a:1", replay=True)):
        commands.run(command, harness.runtime.deps, context)  # type: ignore[arg-type]
    engine = harness.runtime.deps.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = conn.execute(select(AlertInboxRow.group_key, func.count()).group_by(AlertInboxRow.group_key))
        assert [(key.startswith("slack:UASKER:"), count) for key, count in stored] == [(True, 1)]
    parent = harness.api.wait_for("chat.postMessage", channel=CHANNEL)[0]
    assert "checkout" in parent.args["text"]


def test_a_scale_command_replayed_after_opening_its_proposal_opens_no_second(harness: Harness) -> None:
    """A replay acting in place of an attempt cut short after the proposal was opened: the
    proposal is named by the invocation, so the replay finds it and opens nothing new."""
    from urllib.parse import parse_qsl

    from bot.adapters.slack.listeners import commands
    from bot.adapters.slack.listeners.once import delivery_context

    body, _ = sr.command("scale checkout 6", response_url=harness.api.response_url)
    command = dict(parse_qsl(body.decode()))
    for context in (delivery_context("p1-a:1"), delivery_context("p1-a:1", replay=True)):
        commands.run(command, harness.runtime.deps, context)  # type: ignore[arg-type]
    [proposal] = harness.runtime.deps.store.list_proposals()
    assert proposal.state is ProposalState.OPEN and proposal.changes[0].to == 6
    posted = [c for c in harness.api.of("chat.postMessage") if proposal.id in json.dumps(c.args)]
    assert len(posted) == 2  # shown again by the replay (the attempt cut short may never have)
