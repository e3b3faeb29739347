"""Git history of the GitOps repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from bot.domain.deadline import Deadline

ChangeKind = Literal["image", "resources", "env", "replicas", "config", "other"]


@dataclass(frozen=True)
class FileChange:
    path: str
    old_text: str | None  # None when the file was added (or skipped)
    new_text: str | None  # None when the file was deleted (or skipped)
    skipped: str | None = None  # why the texts are absent, e.g. "binary", "larger than 1 MB"


@dataclass(frozen=True)
class Commit:
    sha: str
    at: datetime  # author time
    author: str
    subject: str
    files: tuple[FileChange, ...] = field(default=())
    committed_at: datetime | None = None  # when it landed on the branch (after a rebase or merge)
    parents: tuple[str, ...] = field(default=())
    files_omitted: int = 0  # files beyond the per-commit bound, not listed in ``files``

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class WorkloadChange:
    """What one commit changed for one workload, e.g. kinds={"image"}, "image 1.4.2 -> 1.5.0"."""

    workload: str
    sha: str
    at: datetime  # when the commit landed (committer time), which is when a GitOps sync could see it
    kinds: frozenset[ChangeKind]
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = field(default=())
    subject: str = ""


class GitHistory(Protocol):
    def commits(
        self, since: datetime, until: datetime, max_count: int = 200, deadline: Deadline | None = None
    ) -> list[Commit]:
        """Commits on the default branch in [since, until], newest first, with their file changes;
        within the adapter's budget, or by ``deadline`` when that comes first."""
        ...

    def read(self, path: str, rev: str = "HEAD") -> str | None:
        """A file's text at a revision, or None when it does not exist there."""
        ...

    def files(self, rev: str = "HEAD") -> list[str]:
        """All file paths at a revision."""
        ...

    def revert_diff(self, sha: str) -> str:
        """The unified diff that ``git revert`` of ``sha`` would apply to HEAD."""
        ...

    def commit_diff(self, sha: str) -> str:
        """The unified diff that ``sha`` introduced (against its first parent)."""
        ...
