"""Each Slack delivery acts once across replicas and restarts, over HTTP and Socket Mode: real
``tugboat serve`` processes on one PostgreSQL database, each with its own request journal (as
pods have), and the mock Slack that resends an event as Slack does when its ack never came.

- Killed between the journal write and the ack: Slack resends the event to another replica,
  which acts; the killed one's replay, later, finds that replica's claim and does nothing.
- Killed after claiming, before the effect: the resend finds the claim and does nothing; the
  restarted process's replay acts, once.
- Killed after its reply reached Slack, before the request was marked done: the replay finds
  the reply (message metadata, in the thread) instead of posting it again.

The first case's process dies as a crash leaves it: a child Python process writes the journal
entry exactly as the edge (or ``SocketIntake``) does before its ack, then SIGKILLs itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit import slack_requests as sr
from testkit.serve_process import Replica, serve_env, wait_until
from testkit.slack_api import Call, SlackApi, running_slack_api
from testkit.socket_mode import SocketModeServer, running_socket_mode
from tests.jobs.test_slack_crash import CHANNEL, _kill_at_stall
from tests.jobs.test_socket_crash import _in_socket_mode

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
APP_TOKEN = "xapp-test"
# A process that journals one request as its transport's intake does before the ack, then dies.
_JOURNAL_THEN_DIE = """
import json, os, signal, sys
from pathlib import Path
from slack_sdk.socket_mode.request import SocketModeRequest
from bot.adapters.slack.journal import SlackJournal
from bot.adapters.slack.socket_mode import SocketIntake
journal = SlackJournal(Path(sys.argv[1]), 1 << 20)
request = json.load(sys.stdin)
if sys.argv[2] == "http":
    journal.record(request["headers"], request["body"].encode())
else:
    intake = SocketIntake(None, sys.argv[3], max_text_chars=4000, journal=journal)
    intake.record(SocketModeRequest.from_dict(request))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def socket() -> Iterator[SocketModeServer]:
    with running_socket_mode() as server:
        yield server


@pytest.fixture
def slack(socket: SocketModeServer) -> Iterator[SlackApi]:
    with running_slack_api(socket_mode_url=socket.url) as api:
        yield api


class Pod:
    """One replica's environment: the shared database, its own journal directory."""

    def __init__(self, name: str, slack: SlackApi, url: str, tmp_path: Path, *, socket_mode: bool) -> None:
        self.journal = tmp_path / f"journal-{name}"
        env = serve_env(slack.base_url, CHANNEL, url, TUGBOAT_SLACK_JOURNAL_DIR=str(self.journal))
        self.env = _in_socket_mode(env) if socket_mode else env
        self.socket_mode, self.tmp_path = socket_mode, tmp_path

    def start(self, name: str, socket: SocketModeServer) -> Replica:
        nth = socket.connections + 1
        replica = Replica(name, self.env, self.tmp_path, socket_mode=self.socket_mode)
        replica.wait_ready()
        if self.socket_mode:
            socket.wait_connected(nth)
        return replica

    def die_after_journaling(self, request: dict[str, Any]) -> None:
        transport = "socket_mode" if self.socket_mode else "http"
        child = subprocess.run(
            [sys.executable, "-c", _JOURNAL_THEN_DIE, str(self.journal), transport, APP_TOKEN],
            input=json.dumps(request),
            text=True,
            check=False,
        )
        assert child.returncode == -signal.SIGKILL
        assert len(list(self.journal.iterdir())) == 1  # left as a crash leaves it


def _mention(event_id: str, ts: str) -> tuple[bytes, dict[str, str]]:
    return sr.app_mention(
        "<@UTUGBOAT> why is checkout slow?", user="UASKER", channel=CHANNEL, ts=ts, event_id=event_id
    )


def _deliver(
    replica: Replica, socket: SocketModeServer, made: tuple[bytes, dict[str, str]], retry: int
) -> None:
    """The event to ``replica`` (its ``retry``-th resend when above 0), acknowledged."""
    body, headers = made
    if replica.socket_mode:
        socket.ack(socket.send("events_api", json.loads(body), retry_attempt=retry or None))
        return
    retried = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    assert replica.slack((body, {**headers, **retried})).status_code == 200


def _journal_entry(made: tuple[bytes, dict[str, str]], socket_mode: bool) -> dict[str, Any]:
    """What the intake journals: the signed request over HTTP, the envelope over Socket Mode."""
    body, headers = made
    if socket_mode:
        return {"envelope_id": "env-lost", "type": "events_api", "payload": json.loads(body)}
    lowered = {k.lower(): v for k, v in {**headers, **sr.sign(body)}.items()}
    return {"headers": lowered, "body": body.decode()}


def _answers(slack: SlackApi, ts: str) -> list[Call]:
    return [c for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == ts]


TRANSPORTS = ["http", "socket"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_event_resent_after_a_kill_before_its_ack_acts_once_across_replicas(
    slack: SlackApi, socket: SocketModeServer, tmp_path: Path, postgres_url: str, transport: str
) -> None:
    socket_mode = transport == "socket"
    victim = Pod("victim", slack, postgres_url, tmp_path, socket_mode=socket_mode)
    other = Pod("other", slack, postgres_url, tmp_path, socket_mode=socket_mode)
    made = _mention("EvLostAck", "100.1")
    victim.die_after_journaling(_journal_entry(made, socket_mode))  # journaled, never acknowledged

    elsewhere = other.start(f"{transport}-other", socket)  # Slack resends it: another replica acts
    try:
        _deliver(elsewhere, socket, made, retry=1)
        wait_until(lambda: _answers(slack, "100.1"), 30, "the answer", [elsewhere])
        restarted = victim.start(f"{transport}-restarted", socket)  # replays what it journaled
        restarted.stop()
    finally:
        elsewhere.stop()
    assert len(_answers(slack, "100.1")) == 1
    log = restarted.log.read_text()
    assert "replaying 1 Slack request(s)" in log
    assert "a replayed event was handled by another delivery of it" in log
    assert list(victim.journal.iterdir()) == []  # the replay is done with it


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_event_resent_after_a_kill_past_its_claim_acts_once_after_restart(
    slack: SlackApi, socket: SocketModeServer, tmp_path: Path, postgres_url: str, transport: str
) -> None:
    socket_mode = transport == "socket"
    victim_pod = Pod("victim", slack, postgres_url, tmp_path, socket_mode=socket_mode)
    other = Pod("other", slack, postgres_url, tmp_path, socket_mode=socket_mode)
    made = _mention("EvClaimed", "200.1")
    victim = victim_pod.start(f"{transport}-victim", socket)
    elsewhere = other.start(f"{transport}-other", socket)
    try:
        slack.stall("chat.postMessage")
        first = victim if not socket_mode else elsewhere  # Socket Mode sends to the newest connection
        _deliver(first, socket, made, retry=0)
        _kill_at_stall(slack, "chat.postMessage", first)
        if socket_mode:
            socket.wait_live(1)  # Slack sends the resend over a connection still open
        survivor = elsewhere if first is victim else victim
        _deliver(survivor, socket, made, retry=1)  # the resend finds the claim of the one killed
        wait_until(
            lambda: "slack request event:app_mention (retry 1)" in survivor.log.read_text(),
            30,
            "the resend",
            [survivor],
        )
        assert _answers(slack, "200.1") == []
        pod = victim_pod if first is victim else other
        restarted = pod.start(f"{transport}-restarted", socket)
        wait_until(lambda: _answers(slack, "200.1"), 30, "the answer", [restarted, survivor])
        restarted.stop()
    finally:
        survivor.stop()
    assert len(_answers(slack, "200.1")) == 1
    assert "replaying 1 Slack request(s)" in restarted.log.read_text()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_reply_posted_before_a_kill_is_found_not_posted_again_on_replay(
    slack: SlackApi, socket: SocketModeServer, tmp_path: Path, postgres_url: str, transport: str
) -> None:
    pod = Pod("victim", slack, postgres_url, tmp_path, socket_mode=transport == "socket")
    made = _mention("EvAnswered", "300.1")
    victim = pod.start(f"{transport}-victim", socket)
    slack.slow("chat.postMessage", 30)  # the reply reaches Slack; its answer never reaches the victim
    _deliver(victim, socket, made, retry=0)
    slack.wait_for("chat.postMessage", thread_ts="300.1", timeout=30)
    victim.kill()  # between the listener's last Slack call and the done mark
    slack.slow("chat.postMessage", 0)

    restarted = pod.start(f"{transport}-restarted", socket)
    restarted.stop()
    [answer] = _answers(slack, "300.1")
    assert answer.args["metadata"]["event_type"] == "tugboat_step"  # marked, so it can be found
    looked = [c for c in slack.of("conversations.replies") if c.args.get("ts") == "300.1"]
    assert looked and looked[-1].args.get("include_all_metadata") in (True, "1", "true")
    log = restarted.log.read_text()
    assert "replaying 1 Slack request(s)" in log
    assert "found the message an interrupted run posted" in log
