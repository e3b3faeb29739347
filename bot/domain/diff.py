"""The files a unified diff names, read from its ``---``/``+++`` headers, and the rule for a path
a proposal may touch. Applying a diff is ``bot.ports.patch.ApplyDiff``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.domain.errors import InvalidInput

_HEADER = re.compile(r"^(---|\+\+\+) (?P<path>.+?)\s*$")
_NULL = "/dev/null"


@dataclass(frozen=True)
class FilePatch:
    """One file the diff touches. ``old`` is None for a new file, ``new`` None for a deletion."""

    old: str | None
    new: str | None

    @property
    def path(self) -> str:
        return self.new or self.old or ""


def touched_files(diff: str) -> list[FilePatch]:
    """The files named by the diff's ``---``/``+++`` headers, in order.

    Every path is checked: relative, no ``..`` component, no leading ``/``. A diff whose
    headers cannot be read is refused rather than guessed at.
    """
    patches: list[FilePatch] = []
    old: str | None = None
    pending = False
    for line in diff.splitlines():
        match = _HEADER.match(line)
        if not match:
            continue
        raw = match.group("path").split("\t", 1)[0]
        if line.startswith("---"):
            old, pending = _strip(raw, "a/"), True
        elif pending:
            patches.append(FilePatch(old=old, new=_strip(raw, "b/")))
            pending = False
    if not patches:
        raise InvalidInput("the diff names no files (no ---/+++ headers); it cannot be applied")
    return patches


def _strip(raw: str, prefix: str) -> str | None:
    if raw == _NULL:
        return None
    path = raw[len(prefix) :] if raw.startswith(prefix) else raw
    safe_path(path)
    return path


def safe_path(path: str) -> str:
    """``path`` if it is a plain relative path inside a repository, else InvalidInput."""
    pure = PurePosixPath(path)
    if not path or path.startswith("/") or "\\" in path or pure.is_absolute():
        raise InvalidInput(f"the diff names {path!r}: only relative paths inside the repository are allowed")
    if any(part in ("..", ".git") for part in pure.parts) or path.startswith("~"):
        raise InvalidInput(f"the diff names {path!r}: '..', '~' and .git paths are not allowed")
    return path
