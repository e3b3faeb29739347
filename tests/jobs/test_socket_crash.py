"""``tugboat serve`` in Socket Mode killed with SIGKILL after acknowledging a slash command or an
Approve click over the WebSocket, before the listener's effect: restarted, it replays the envelope
from its journal, and the effect happens exactly once. The HTTP twin is test_slack_crash.py.

Slack here is a real WebSocket server speaking Socket Mode's wire format (``testkit.socket_mode``)
reached through ``apps.connections.open`` on the mock Web API; the kill lands between the ack and
the effect as over HTTP: the mock stalls the listener's first Web API call until the process is
dead (``SlackApi.stall``). Slack never sends an acknowledged envelope again, so without the
journal the request would be lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.adapters.slack.blocks import ACTION_APPROVE, approve_value
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditKind
from bot.domain.proposal import ProposalState
from testkit import slack_requests
from testkit.gitops import git
from testkit.serve_process import Replica, wait_until
from testkit.slack_api import SlackApi, running_slack_api
from testkit.socket_mode import SocketModeServer, running_socket_mode
from tests.jobs.test_slack_crash import (
    APPROVER,
    CHANNEL,
    DATABASES,
    GROUP,
    _gitops_with_a_proposal,
    _kill_at_stall,
)

pytestmark = [pytest.mark.slow]


@pytest.fixture
def socket() -> Iterator[SocketModeServer]:
    with running_socket_mode() as server:
        yield server


@pytest.fixture
def slack(socket: SocketModeServer) -> Iterator[SlackApi]:
    with running_slack_api(socket_mode_url=socket.url) as api:
        yield api


def _in_socket_mode(env: dict[str, str]) -> dict[str, str]:
    # No signing secret: over Socket Mode nothing is signed, so the journal's seal is all there is.
    return {k: v for k, v in env.items() if k != "SLACK_SIGNING_SECRET"} | {"SLACK_APP_TOKEN": "xapp-test"}


def _start(name: str, env: dict[str, str], tmp_path: Path, socket: SocketModeServer, nth: int) -> Replica:
    """A replica, ready and connected (its ``nth`` connection to the server)."""
    replica = Replica(name, env, tmp_path, socket_mode=True)
    replica.wait_ready()
    socket.wait_connected(nth)
    return replica


def _command(text: str, **fields: str) -> dict[str, Any]:
    body, _ = slack_requests.command(text, **fields)
    return dict(parse_qsl(body.decode()))


def _click(*args: Any, **fields: Any) -> dict[str, Any]:
    body, _ = slack_requests.button(*args, **fields)
    return dict(json.loads(dict(parse_qsl(body.decode()))["payload"]))


@pytest.mark.parametrize("database", DATABASES)
def test_a_socket_mode_command_acknowledged_then_killed_is_answered_once_after_restart(
    slack: SlackApi, socket: SocketModeServer, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    _, _, proposal, env = _gitops_with_a_proposal(slack, tmp_path, database, request)
    env = _in_socket_mode(env)
    victim = _start("victim", env, tmp_path, socket, 1)
    slack.stall("response_url")
    sent = socket.send("slash_commands", _command("status", response_url=slack.response_url))
    ack = socket.ack(sent)
    assert "Working on" in ack["payload"]["text"]
    _kill_at_stall(slack, "response_url", victim)
    assert slack.of("response_url") == []  # acknowledged, and nothing came of it

    restarted = _start("restarted", env, tmp_path, socket, 2)
    try:
        [reply] = wait_until(lambda: slack.of("response_url"), 30, "the status reply", [victim, restarted])
    finally:
        restarted.stop()  # graceful: whatever else it had started is finished now
    assert reply.args["text"] == "1 open proposal(s)"
    assert proposal.id in json.dumps(reply.args["blocks"])
    assert "replaying 1 Slack request(s)" in restarted.log.read_text()

    again = _start("again", env, tmp_path, socket, 3)  # the done entry is not replayed a second time
    again.stop()
    assert len(slack.of("response_url")) == 1
    assert "replaying" not in again.log.read_text()
    assert list((tmp_path / ".tugboat" / "slack-journal").iterdir()) == []  # nothing left at work


@pytest.mark.parametrize("database", DATABASES)
def test_a_socket_mode_approval_acknowledged_then_killed_merges_once_after_restart(
    slack: SlackApi, socket: SocketModeServer, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url, remote, proposal, env = _gitops_with_a_proposal(slack, tmp_path, database, request)
    env = _in_socket_mode(env)
    slack.group_members[GROUP] = [APPROVER]
    before = remote.head()
    victim = _start("victim", env, tmp_path, socket, 1)
    slack.stall("usergroups.users.list")
    click = _click(ACTION_APPROVE, approve_value(proposal), user=APPROVER, channel=CHANNEL, message_ts="1.5")
    socket.ack(socket.send("interactive", click))
    _kill_at_stall(slack, "usergroups.users.list", victim)

    with SqlStore.open(url) as store:
        assert store.get_proposal(proposal.id).state is ProposalState.OPEN  # type: ignore[union-attr]
        assert store.approvals(proposal.id) == []  # the click was claimed, nothing more

        restarted = _start("restarted", env, tmp_path, socket, 2)
        try:

            def merged() -> bool:
                current = store.get_proposal(proposal.id)
                return current is not None and current.state is ProposalState.MERGED

            wait_until(merged, 60, "the merge", [victim, restarted])
            slack.wait_for("chat.update", ts="1.5")
        finally:
            restarted.stop()
        again = _start("again", env, tmp_path, socket, 3)
        again.stop()
        kinds = [e.kind for e in store.audit_trail(proposal.id)]
    assert kinds.count(AuditKind.APPROVED.value) == 1
    assert kinds.count(AuditKind.MERGED.value) == 1
    merges = git(remote.bare, "rev-list", "--first-parent", f"{before}..main").split()
    assert len(merges) == 1, merges
    assert "replicas: 6" in remote.show("apps/checkout/deployment.yaml")
    assert "replaying" not in again.log.read_text()
