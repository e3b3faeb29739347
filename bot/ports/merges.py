"""Who hears of merges: the post-merge watch (a merge happened) and the chat tool (how the merge
a person's approval queued went). Given to ``ProposalWorkflow`` when it is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.proposal import Proposal
from bot.ports.chat import ReplyTarget


@dataclass(frozen=True)
class Outcome:
    """What a decision led to, phrased for the person who clicked."""

    proposal: Proposal
    message: str
    merged: bool = False
    accepted: bool = True  # False when the decision was refused
    merging: bool = False  # approved; the merge is queued (``merge_finished`` tells how it went)


class EndListener(Protocol):
    def ended(self, proposal: Proposal) -> None:
        """Right after the proposal reached a state it never leaves (merged, rejected, expired,
        failed, tampered, superseded), however it got there; again if its message with buttons
        is recorded only after that (``ProposalWorkflow.posted``), so a listener acts once
        however often it is told. A failure here never undoes the end."""
        ...


class MergeListener(Protocol):
    def merged(self, proposal: Proposal, merge_sha: str | None) -> None:
        """Once per merged proposal, right after the merge; a failure here never undoes it."""
        ...

    def merge_finished(self, outcome: Outcome, reply_to: ReplyTarget | None) -> None:
        """How a queued merge went (or that it waits for the change host), for ``reply_to``,
        where the deciding approval came from; None for a merge resumed by housekeeping."""
        ...
