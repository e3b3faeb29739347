"""``tugboat serve`` killed with SIGKILL after acknowledging a slash command or an Approve click,
before the listener's effect: restarted, it replays the request from its journal, and the effect
happens exactly once.

The mock Slack API stalls the listener's first Web API call before it counts (``SlackApi.stall``)
until the test has killed the process, so the kill lands deterministically between the ack and
the effect; the stalled call is then dropped, as one that never left the dead process. Without
the journal the request would be lost: Slack does not resend commands or clicks it saw answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.slack.blocks import ACTION_APPROVE, approve_value
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditKind
from bot.domain.proposal import Proposal, ProposalState
from testkit import slack_requests
from testkit.gitops import GitOpsRemote, git, make_remote
from testkit.serve_process import Replica, serve_env, wait_until
from testkit.slack_api import SlackApi, running_slack_api
from tests.jobs.test_replicas import _open_proposal

pytestmark = [pytest.mark.slow]

CHANNEL = "CINC"
APPROVER = "UAPPROVER"
GROUP = "S0SRE"
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


def _url(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'tugboat.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _env(slack: SlackApi, url: str, repo: Path) -> dict[str, str]:
    # Approvers by group, so an approval asks Slack who is in it before anything is recorded.
    policy = {"approvers": [], "approver_groups": [GROUP]}
    return serve_env(
        slack.base_url,
        CHANNEL,
        url,
        TUGBOAT_REPO=str(repo),
        TUGBOAT_POLICY=json.dumps(policy),
        TUGBOAT_JOBS_POLL_S="0.2",
    )


def _gitops_with_a_proposal(
    slack: SlackApi, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> tuple[str, GitOpsRemote, Proposal, dict[str, str]]:
    """(database URL, GitOps remote, an open proposal on it, the environment serve runs with)."""
    url = _url(database, tmp_path, request)
    remote = make_remote(tmp_path / "gitops")
    proposal = _open_proposal(url, remote, tmp_path / "cache")
    return url, remote, proposal, _env(slack, url, remote.bare)


def _kill_at_stall(slack: SlackApi, method: str, victim: Replica) -> None:
    """Once the listener's call of ``method`` has reached the (stalled) mock: SIGKILL, then let
    the call go, which finds its sender dead and is dropped."""
    released = slack.stall(method)
    slack.wait_for(method + ":stalled", timeout=30)
    victim.kill()
    released.set()
    slack.wait_for(method + ":dropped", timeout=10)


@pytest.mark.parametrize("database", DATABASES)
def test_a_command_acknowledged_then_killed_is_answered_once_after_restart(
    slack: SlackApi, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    _, _, proposal, env = _gitops_with_a_proposal(slack, tmp_path, database, request)
    victim = Replica("victim", env, tmp_path)
    victim.wait_ready()
    slack.stall("response_url")
    answer = victim.slack(slack_requests.command("status", response_url=slack.response_url))
    assert answer.status_code == 200 and "Working on" in answer.json()["text"]
    _kill_at_stall(slack, "response_url", victim)
    assert slack.of("response_url") == []  # acknowledged, and nothing came of it

    restarted = Replica("restarted", env, tmp_path)
    try:
        restarted.wait_ready()
        [reply] = wait_until(lambda: slack.of("response_url"), 30, "the status reply", [victim, restarted])
    finally:
        restarted.stop()  # graceful: whatever else it had started is finished now
    assert reply.args["text"] == "1 open proposal(s)"
    assert proposal.id in json.dumps(reply.args["blocks"])
    assert "replaying 1 Slack request(s)" in restarted.log.read_text()

    again = Replica("again", env, tmp_path)  # the done entry is not replayed a second time
    again.wait_ready()
    again.stop()
    assert len(slack.of("response_url")) == 1
    assert "replaying" not in again.log.read_text()
    assert list((tmp_path / ".tugboat" / "slack-journal").iterdir()) == []  # nothing left at work


@pytest.mark.parametrize("database", DATABASES)
def test_an_approval_acknowledged_then_killed_merges_once_after_restart(
    slack: SlackApi, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url, remote, proposal, env = _gitops_with_a_proposal(slack, tmp_path, database, request)
    slack.group_members[GROUP] = [APPROVER]
    before = remote.head()
    victim = Replica("victim", env, tmp_path)
    victim.wait_ready()
    slack.stall("usergroups.users.list")
    click = slack_requests.button(
        ACTION_APPROVE, approve_value(proposal), user=APPROVER, channel=CHANNEL, message_ts="1.5"
    )
    assert victim.slack(click).status_code == 200
    _kill_at_stall(slack, "usergroups.users.list", victim)

    with SqlStore.open(url) as store:
        assert store.get_proposal(proposal.id).state is ProposalState.OPEN  # type: ignore[union-attr]
        assert store.approvals(proposal.id) == []  # the click was claimed, nothing more

        restarted = Replica("restarted", env, tmp_path)
        try:
            restarted.wait_ready()

            def merged() -> bool:
                current = store.get_proposal(proposal.id)
                return current is not None and current.state is ProposalState.MERGED

            wait_until(merged, 60, "the merge", [victim, restarted])
            slack.wait_for("chat.update", ts="1.5")
        finally:
            restarted.stop()
        again = Replica("again", env, tmp_path)
        again.wait_ready()
        again.stop()
        kinds = [e.kind for e in store.audit_trail(proposal.id)]
    assert kinds.count(AuditKind.APPROVED.value) == 1
    assert kinds.count(AuditKind.MERGED.value) == 1
    merges = git(remote.bare, "rev-list", "--first-parent", f"{before}..main").split()
    assert len(merges) == 1, merges
    assert "replicas: 6" in remote.show("apps/checkout/deployment.yaml")
