"""Where proposals become branches or pull requests, and get merged."""

from __future__ import annotations

from collections.abc import Mapping
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


# Every file a merge would change: path -> (as on the default branch now, as after the merge);
# None where the file does not exist.
FileVersions = Mapping[str, tuple[bytes | None, bytes | None]]


class ChangeHost(Protocol):
    def open(self, proposal: Proposal) -> ChangeRef:
        """Push the proposal's diff as one commit on ``tugboat/<id>``; idempotent."""
        ...

    def head(self, proposal: Proposal) -> str | None:
        """The current head commit of the proposal's branch, or None if it is gone."""
        ...

    def heads(self) -> dict[str, str]:
        """What ``head`` answers for every proposal branch at once, in one ask of the host: the
        head commit of each ``tugboat/<id>`` branch that is still open, by branch name."""
        ...

    def merge_preview(self, proposal: Proposal, approved_sha: str) -> FileVersions:
        """What merging ``approved_sha`` would change, checked first: the branch head must be
        ``approved_sha``, and that commit must be Tugboat's one commit whose change against its
        parent is exactly the proposal's diff. Raises ``Tampered`` otherwise, ``ConflictError``
        when it no longer merges cleanly."""
        ...

    def merge(self, proposal: Proposal, approved_sha: str) -> MergeResult:
        """Merge into the default branch only if the branch head is still ``approved_sha``, in
        one step that fails if either the branch or the default branch moved meanwhile.

        Raises ``Tampered`` when the branch head is not ``approved_sha`` (or is gone).
        """
        ...

    def close(self, proposal: Proposal, reason: str) -> None:
        """Abandon the change (rejected or expired)."""
        ...

    def comment(self, proposal: Proposal, text: str) -> None:
        """Leave a note where reviewers see it (a PR comment; a no-op for plain git)."""
        ...
