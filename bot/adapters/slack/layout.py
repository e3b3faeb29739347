"""The ``MessageLayout`` port in Block Kit: the use cases' messages as Slack blocks."""

from __future__ import annotations

from bot.adapters.slack import blocks
from bot.domain.alert import AlertGroup
from bot.domain.proposal import Proposal
from bot.domain.report import InvestigationReport
from bot.ports.chat import Block
from bot.security.inert import inert_mrkdwn


class BlockKitLayout:
    long_diff = blocks.MAX_SECTION - 8  # what a section shows of a diff inside its code fence

    def inert(self, text: str) -> str:
        return inert_mrkdwn(text)

    def section(self, markdown: str) -> Block:
        return blocks.section(markdown)

    def context(self, *items: str) -> Block:
        return blocks.context(*items)

    def incident_parent(self, group: AlertGroup, resolved_after: str | None = None) -> list[Block]:
        return blocks.incident_parent(group, resolved_after=resolved_after)

    def alert_update(self, group: AlertGroup, new: int, total: int) -> list[Block]:
        return blocks.alert_update(group, new, total)

    def refired_reply(self, group: AlertGroup) -> list[Block]:
        return blocks.refired_reply(group)

    def resolved_reply(self, duration: str) -> list[Block]:
        return blocks.resolved_reply(duration)

    def investigation(self, report: InvestigationReport) -> list[Block]:
        return blocks.investigation(report)

    def proposal(self, proposal: Proposal, *, with_buttons: bool, draft_button: bool = False) -> list[Block]:
        return blocks.proposal_blocks(proposal, with_buttons=with_buttons, draft_button=draft_button)

    def ended_proposal(
        self, proposal: Proposal, line: str, original: list[Block] | None = None
    ) -> list[Block]:
        return blocks.decision_blocks(proposal, line, original)
