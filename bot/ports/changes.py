"""Where proposals become branches or pull requests, and get merged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.proposal import Proposal


@dataclass(frozen=True)
class ChangeRef:
    branch: str  # always tugboat/<proposal id>, so a retry never makes a duplicate
    head_sha: str
    url: str | None = None


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    sha: str | None = None  # the merge commit on the default branch
    message: str = ""


class ChangeHost(Protocol):
    def open(self, proposal: Proposal) -> ChangeRef:
        """Push the proposal's diff as one commit on ``tugboat/<id>``; idempotent."""
        ...

    def head(self, proposal: Proposal) -> str | None:
        """The current head commit of the proposal's branch, or None if it is gone."""
        ...

    def merge(self, proposal: Proposal, approved_sha: str) -> MergeResult:
        """Merge into the default branch only if the branch head is still ``approved_sha``.

        Raises ``ConflictError`` when the head moved.
        """
        ...

    def close(self, proposal: Proposal, reason: str) -> None:
        """Abandon the change (rejected or expired)."""
        ...

    def comment(self, proposal: Proposal, text: str) -> None:
        """Leave a note where reviewers see it (a PR comment; a no-op for plain git)."""
        ...
