"""Git history of the GitOps repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class FileChange:
    path: str
    old_text: str | None  # None when the file was added
    new_text: str | None  # None when the file was deleted


@dataclass(frozen=True)
class Commit:
    sha: str
    at: datetime
    author: str
    subject: str
    files: tuple[FileChange, ...] = field(default=())


class GitHistory(Protocol):
    def commits(self, since: datetime, until: datetime, max_count: int = 200) -> list[Commit]:
        """Commits on the default branch in [since, until], newest first, with their file changes."""
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
