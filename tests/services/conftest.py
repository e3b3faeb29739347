"""The world proposal messages are tested in: a real git remote, the workflow with the
proposal messages as its end listener, and a real Slack client against the recording mock Web
API (SQLite and PostgreSQL, by ``store``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.slack.layout import BlockKitLayout
from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditEvent
from bot.domain.policy import ApprovalPolicy
from bot.domain.proposal import Proposal
from bot.ports.chat import Block
from bot.services.proposal_messages import ProposalMessages
from bot.services.proposals import ProposalWorkflow
from testkit.gitops import GitOpsRemote, make_remote, scale_proposal
from testkit.slack_api import Call, SlackApi, running_slack_api

CHANNEL = "CPROPOSALS"
APPROVERS = ["U_ALICE", "U_BOB"]


@dataclass
class World:
    store: SqlStore
    api: SlackApi
    remote: GitOpsRemote
    workflow: ProposalWorkflow
    messages: ProposalMessages
    slept: list[float]

    def posted(self, replicas: int = 6, drafted: Proposal | None = None) -> tuple[Proposal, str]:
        """An opened proposal (``drafted``, else checkout scaled to ``replicas``), and the ts of
        its message with buttons, recorded as posting does."""
        drafted = drafted or scale_proposal(self.remote.work, replicas)
        proposal = self.workflow.open(self.workflow.submit(drafted, requested_by="U_CAROL").id)
        body = self.body(proposal)
        ts = self.messages.chat.post_message(CHANNEL, "Proposed change", body)
        self.workflow.posted(proposal.id, CHANNEL, ts, "Proposed change", body)
        return proposal, ts

    def body(self, proposal: Proposal) -> list[Block]:
        """The proposal's blocks with its buttons, as posters show it."""
        return BlockKitLayout().proposal(proposal, with_buttons=True)

    def updates(self, ts: str) -> list[Call]:
        return [c for c in self.api.of("chat.update") if c.args.get("ts") == ts]

    def ended_events(self, proposal_id: str) -> list[AuditEvent]:
        return [e for e in self.store.audit_trail(proposal_id) if e.kind == "proposal.message_ended"]


@pytest.fixture
def world(store: SqlStore, tmp_path: Path) -> Iterator[World]:
    remote = make_remote(tmp_path / "gitops")
    slept: list[float] = []
    with running_slack_api() as api:
        chat = SlackNotifier(WebClient(token="xoxb-test", base_url=api.base_url))
        messages = ProposalMessages(store, chat, BlockKitLayout(), sleep=slept.append)
        workflow = ProposalWorkflow(
            store,
            PlainGitChangeHost(str(remote.bare), tmp_path / "cache"),
            ApprovalPolicy(approvers=APPROVERS),
            end_listeners=[messages],
        )
        yield World(store, api, remote, workflow, messages, slept)
