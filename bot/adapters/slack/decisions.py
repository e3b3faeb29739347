"""Decisions' outcomes, shown on the Slack message whose button asked for them.

``SlackDecisions`` is also a ``MergeListener`` (bot/ports/merges.py): a merge queued by an
approval reports back to the approval's message. It needs only the chat and the store, so the
composition root builds it before the workflow that tells it of merges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.slack import blocks
from bot.domain.alert import now_utc
from bot.domain.proposal import TERMINAL_STATES, Proposal, ProposalState
from bot.observability.metrics import MERGES
from bot.ports.chat import Block, ChatNotifier, ReplyTarget
from bot.ports.merges import Outcome
from bot.ports.store import PostedMessage, Store
from bot.services.proposal_messages import ProposalMessages

# Ended without merging: a refused click on such a proposal's message takes its buttons away too.
CLOSED = (ProposalState.EXPIRED, ProposalState.FAILED, ProposalState.TAMPERED, ProposalState.SUPERSEDED)


@dataclass(frozen=True, eq=False)
class SlackDecisions:
    chat: ChatNotifier
    store: Store
    clock: Callable[[], datetime] = now_utc
    # Told when a click showed how its proposal ended, so the end's own update is not needed.
    messages: ProposalMessages | None = None

    def merged(self, proposal: Proposal, merge_sha: str | None) -> None:
        """Nothing to show: the approval's message hears how its merge went (``merge_finished``)."""

    def merge_finished(self, outcome: Outcome, reply_to: ReplyTarget | None) -> None:
        """A queued merge's outcome, shown on the message whose Approve button queued it (a merge
        resumed by housekeeping has no message to update)."""
        if reply_to is not None and reply_to.ts:
            self.show(outcome, "Approved", reply_to)

    def show(self, outcome: Outcome, verb: str, where: ReplyTarget, reason: str = "") -> None:
        """Show the result: buttons gone once decided; refusals and partial approvals to the
        clicker. A proposal that ends without merging (expired, failed, tampered, superseded)
        loses its buttons too, and a tampered one is announced in the thread, once. The edit
        keeps what the recorded message said; only its buttons go."""
        channel, ts, thread, user = where.channel, where.ts or "", where.thread_ts, where.user or ""
        proposal = outcome.proposal
        if outcome.merged:
            MERGES.inc()
        final = proposal.state in TERMINAL_STATES or proposal.state is ProposalState.FAILED
        if outcome.accepted and final:
            text = self._decided_text(verb, user, outcome) + (f" · reason: {reason}" if reason else "")
            shown = blocks.decision_blocks(proposal, text, self._original(proposal, where))
            self.chat.update_message(channel, ts, f"{verb}: {blocks.shown_title(proposal)}", shown)
            self._shown(proposal, where)
            return
        if outcome.accepted:  # e.g. "approved by <@U> (1 of 2 approvals)": everyone in the thread sees it
            self.chat.post_message(channel, outcome.message, thread_ts=thread or ts)
            return
        self.chat.post_ephemeral(channel, user, outcome.message, thread_ts=thread)
        if proposal.state in CLOSED:
            text = f":no_entry: Not merged. {outcome.message[:1].upper()}{outcome.message[1:]}"
            shown = blocks.decision_blocks(proposal, text, self._original(proposal, where))
            self.chat.update_message(channel, ts, text, shown)
            self._shown(proposal, where)
        if proposal.state is ProposalState.TAMPERED and self.store.claim_once(
            f"tampered-notice:{proposal.id}"
        ):
            self.chat.post_message(channel, f":warning: {outcome.message}", thread_ts=thread or ts)

    def _original(self, proposal: Proposal, where: ReplyTarget) -> list[Block] | None:
        """The blocks the clicked message was posted with, when it is the recorded one."""
        recorded = self.store.proposal_message(proposal.id)
        return recorded.blocks if recorded == PostedMessage(where.channel, where.ts or "") else None

    def _shown(self, proposal: Proposal, where: ReplyTarget) -> None:
        if self.messages is not None:
            self.messages.shown(proposal.id, where.channel, where.ts)

    def _decided_text(self, verb: str, user: str, outcome: Outcome) -> str:
        when = self.clock().strftime("%Y-%m-%d %H:%M UTC")
        return f"{verb} by <@{user}> at {when} · {outcome.message}"
