"""Apply a proposal's unified diff to file contents in memory, with ``git apply`` doing the work.

Used where there is no clone to apply into: the GitHub host (contents come from the API) and
the policy scan (contents come from a checkout that must not be written). ``git apply`` runs
in a throwaway repository holding only the touched files, so it never sees anything else.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.adapters.git.history import SAFE_CONFIG
from bot.adapters.git.runner import GitFailed, git
from bot.domain.errors import ConflictError, InvalidInput

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


def apply_diff(diff: str, originals: Mapping[str, bytes | None]) -> dict[str, bytes | None]:
    """The new contents of every file ``diff`` touches (None for a deleted file).

    ``originals`` maps each touched path to its current bytes (None when it does not exist).
    Raises ConflictError when the diff does not apply to those contents.
    """
    files = touched_files(diff)
    if re.search(r"^(new file |new )?mode 120000", diff, re.MULTILINE):
        raise InvalidInput("the diff creates a symbolic link; proposals may only edit regular files")
    with tempfile.TemporaryDirectory(prefix="tugboat-apply-") as tmp:
        root = Path(tmp)
        # An empty repository stops git from finding an enclosing one and applying there.
        git(["init", "--quiet", str(root)], config=SAFE_CONFIG)
        for path, content in originals.items():
            if content is None:
                continue
            target = root / safe_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            git(
                ["apply", "--whitespace=nowarn", "-"],
                root,
                input=diff if diff.endswith("\n") else diff + "\n",
                config=SAFE_CONFIG,
            )
        except GitFailed as exc:
            lines = [line.strip() for line in exc.stderr.splitlines() if line.strip()]
            detail = " / ".join(lines[-3:]) or "git apply failed"
            raise ConflictError(
                f"the diff does not apply to the current files: {detail}. "
                "The files changed since it was computed; investigate again."
            ) from None
        result: dict[str, bytes | None] = {}
        for patch in files:
            if patch.old and patch.old != patch.new:
                result[patch.old] = None
            if patch.new:
                target = root / patch.new
                if target.is_symlink():
                    raise InvalidInput(f"the diff makes {patch.new!r} a symbolic link; that is not allowed")
                result[patch.new] = target.read_bytes()
        return result


def blob_sha(content: bytes) -> str:
    """The git object id of a blob with ``content`` (what GitHub reports as a file's sha)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
